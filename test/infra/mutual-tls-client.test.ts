import { Match, Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseBrokerConfigJson } from '../../lambda/broker/core/config.ts';
import { ENV } from '../../lambda/shared/contract.ts';
import type { BrokerClientInput } from '../../lib/broker-config-input.ts';
import { TokenBroker } from '../../lib/token-broker.ts';
import { importEndpoint, newTestStack } from './synth.ts';

const PAYMENTS: BrokerClientInput = {
  name: 'payments',
  tokenEndpoint: 'https://auth.example.com/oauth2/token',
  mtlsTokenEndpoint: 'https://mtls.auth.example.com/oauth2/token',
  clientId: 'payments-broker',
  authMethod: 'tls_client_auth',
  scopes: ['payments:read'],
};
const LEDGER: BrokerClientInput = {
  name: 'ledger',
  tokenEndpoint: 'https://auth.example.com/oauth2/token',
  clientId: 'ledger-broker',
  authMethod: 'self_signed_tls_client_auth',
  clientSecret: { secretId: 'prod/ledger-client-certificate' },
};

/** The configuration text of an environment variable, secret ARNs standing in for their references. */
function configText(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].map(configText).join(join[0]);
  return 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:created-AbCdEf';
}

describe('Construct: TokenBroker with mutual TLS clients', () => {
  let template: Template;

  beforeAll(() => {
    const stack = newTestStack();
    new TokenBroker(stack, 'Broker', {
      config: { clients: [PAYMENTS, LEDGER] },
      vpcEndpoints: [importEndpoint(stack)],
    });
    template = Template.fromStack(stack);
  });

  it('creates a placeholder for a certificate and its key, and says how to put both as one JSON secret', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Description: Match.stringLikeRegexp(
        'client certificate and private key \\(JSON \\{ "certificate", "privateKey" \\}, PEM\\) of client "payments"',
      ),
    });
    const [output] = Object.values(template.findOutputs('*', { Description: Match.stringLikeRegexp('payments') }));
    const command = JSON.stringify(output?.Value);
    expect(output?.Description).toContain('certificate in payments.crt and its private key in payments.key');
    expect(command).toContain(
      "jq -n --rawfile certificate payments.crt --rawfile privateKey payments.key '{$certificate, $privateKey}' > payments-secret.json",
    );
    expect(command).toContain('aws secretsmanager put-secret-value --secret-id ');
    expect(command).toContain('--secret-string file://payments-secret.json && rm payments-secret.json');
  });

  it('passes the method and the mutual TLS alias to the runtime, each secret named by ARN', () => {
    const [fn] = Object.values(
      template.findResources('AWS::Lambda::Function', {
        Properties: { Environment: { Variables: { [ENV.brokerConfig]: Match.anyValue() } } },
      }),
    );
    if (!fn) throw new Error('No broker function in the template');
    const variables = (fn.Properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables;
    const config = parseBrokerConfigJson(configText(variables[ENV.brokerConfig]), ENV.brokerConfig);

    expect(config.clients.map((c) => [c.name, c.authMethod, c.mtlsTokenEndpoint?.href, c.clientSecret?.kind])).toEqual([
      ['payments', 'tls_client_auth', 'https://mtls.auth.example.com/oauth2/token', 'secretsManager'],
      ['ledger', 'self_signed_tls_client_auth', undefined, 'secretsManager'],
    ]);
  });

  it.each<[string, (stack: ReturnType<typeof newTestStack>) => ConstructorParameters<typeof TokenBroker>[2], string]>([
    [
      'a secret field in the configuration',
      (stack) => ({
        config: { clients: [{ ...LEDGER, clientSecret: { secretId: 'prod/ledger', field: 'certificate' } }] },
        vpcEndpoints: [importEndpoint(stack)],
      }),
      'config.clients[0].clientSecret.field is not used with authMethod self_signed_tls_client_auth',
    ],
    [
      'a secret field in clientSecrets',
      (stack) => ({
        config: { clients: [PAYMENTS] },
        clientSecrets: {
          payments: { secret: secretsmanager.Secret.fromSecretNameV2(stack, 'S', 'prod/payments'), field: 'pem' },
        },
        vpcEndpoints: [importEndpoint(stack)],
      }),
      'clientSecrets.payments.field: not used with authMethod tls_client_auth',
    ],
    [
      'an mtlsTokenEndpoint for a client_secret_basic client',
      (stack) => ({
        config: { clients: [{ ...PAYMENTS, authMethod: 'client_secret_basic' }] },
        vpcEndpoints: [importEndpoint(stack)],
      }),
      'config.clients[0].mtlsTokenEndpoint applies only to authMethod tls_client_auth or self_signed_tls_client_auth',
    ],
  ])('refuses %s at synth, naming it', (_case, props, message) => {
    const stack = newTestStack();
    expect(() => new TokenBroker(stack, 'Broker', props(stack))).toThrow(message);
  });
});
