import { Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { parseBrokerConfigJson } from '../../lambda/broker/core/config.ts';
import { ENV } from '../../lambda/shared/contract.ts';
import type { BrokerClientInput } from '../../lib/broker-config-input.ts';
import { TokenBroker } from '../../lib/token-broker.ts';
import { asArray, importEndpoint, newTestStack, policyStatements, TWO_CLIENTS } from './synth.ts';

const KEYCLOAK: BrokerClientInput = {
  name: 'erp',
  tokenEndpoint: 'https://keycloak.example.com/realms/m2m/protocol/openid-connect/token',
  clientId: 'erp',
  authMethod: 'aws_web_identity',
  webIdentity: { audience: 'https://keycloak.example.com/realms/m2m' },
};
const ENTRA: BrokerClientInput = {
  name: 'graph',
  tokenEndpoint: 'https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/oauth2/v2.0/token',
  clientId: '11111111-1111-1111-1111-111111111111',
  authMethod: 'aws_web_identity',
  webIdentity: { audience: ['api://AzureADTokenExchange'], signingAlgorithm: 'ES384', durationSeconds: 900 },
  scopes: ['https://graph.microsoft.com/.default'],
};

function synth(clients: readonly BrokerClientInput[]) {
  const stack = newTestStack();
  const broker = new TokenBroker(stack, 'Broker', { config: { clients }, vpcEndpoints: [importEndpoint(stack)] });
  return { stack, broker, template: Template.fromStack(stack) };
}

/** The statements of the broker role's policies (its role is the one named after the broker). */
function brokerStatements(template: Template) {
  return policyStatements(
    template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^BrokerRole') }] },
    }),
  );
}

describe('Construct: TokenBroker with aws_web_identity clients', () => {
  it('creates no secret for them, and a placeholder only for the client that needs one', () => {
    // Act
    const { template } = synth([KEYCLOAK, TWO_CLIENTS.clients[0] as BrokerClientInput]);

    // Assess
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    expect(Object.keys(template.findOutputs('*')).filter((id) => id.includes('PutSecretCommand'))).toEqual([
      expect.stringContaining('PutSecretCommandshop'),
    ]);
  });

  it('gives the function their webIdentity and no clientSecret', () => {
    // Act
    const { template } = synth([KEYCLOAK, ENTRA]);

    // Assess
    const [fn] = Object.values(
      template.findResources('AWS::Lambda::Function', {
        Properties: { Environment: { Variables: { [ENV.brokerConfig]: Match.anyValue() } } },
      }),
    );
    const config = parseBrokerConfigJson(fn?.Properties.Environment.Variables[ENV.brokerConfig], ENV.brokerConfig);
    expect(config.clients.map((c) => [c.name, c.clientSecret, c.webIdentity])).toEqual([
      [
        'erp',
        undefined,
        { audience: ['https://keycloak.example.com/realms/m2m'], signingAlgorithm: 'RS256', durationSeconds: 300 },
      ],
      [
        'graph',
        undefined,
        { audience: ['api://AzureADTokenExchange'], signingAlgorithm: 'ES384', durationSeconds: 900 },
      ],
    ]);
  });

  it('allows sts:GetWebIdentityToken only for their audiences, algorithms and longest lifetime, and reads no secret', () => {
    // Act
    const { template } = synth([KEYCLOAK, ENTRA]);

    // Assess
    const statements = brokerStatements(template);
    const sts = statements.filter((s) => asArray(s.Action).includes('sts:GetWebIdentityToken'));
    expect(sts).toEqual([
      {
        Effect: 'Allow',
        Action: 'sts:GetWebIdentityToken',
        Resource: '*',
        Condition: {
          'ForAllValues:StringEquals': {
            'sts:IdentityTokenAudience': ['https://keycloak.example.com/realms/m2m', 'api://AzureADTokenExchange'],
          },
          Null: { 'sts:IdentityTokenAudience': 'false' },
          StringEquals: { 'sts:SigningAlgorithm': ['RS256', 'ES384'] },
          NumericLessThanEquals: { 'sts:DurationSeconds': 900 },
        },
      },
    ]);
    expect(statements.flatMap((s) => asArray(s.Action)).filter((a) => a.startsWith('secretsmanager:'))).toEqual([]);
  });

  it("outputs the broker role's ARN: the sub the authorization servers trust", () => {
    // Act
    const { template, stack, broker } = synth([KEYCLOAK]);

    // Assess
    template.hasOutput('*', {
      Value: stack.resolve(broker.function.role?.roleArn),
      Description: Match.stringLikeRegexp('sub'),
    });
  });

  it('grants no STS permission to a broker without such a client, nor outputs a subject', () => {
    // Act
    const { template } = synth(TWO_CLIENTS.clients);

    // Assess
    const actions = brokerStatements(template).flatMap((s) => asArray(s.Action));
    expect(actions).toContain('secretsmanager:GetSecretValue');
    expect(actions).not.toContain('sts:GetWebIdentityToken');
    expect(Object.keys(template.findOutputs('*')).filter((id) => id.includes('WebIdentitySubject'))).toEqual([]);
  });

  it("acknowledges the statement's Resource * for cdk-nag on the broker role, with its reason", () => {
    // Act
    const { broker } = synth([KEYCLOAK]);

    // Assess
    const role = broker.function.role?.node;
    const reasons = (role?.metadata ?? [])
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .map((m) => (m.data as Record<string, string>)['AwsSolutions::AwsSolutions-IAM5[Resource::*]']);
    expect(reasons).toContainEqual(expect.stringContaining('sts:GetWebIdentityToken supports no resource ARN'));
  });

  it.each([
    [
      'a clientSecret in the configuration',
      () => ({ config: { clients: [{ ...KEYCLOAK, clientSecret: { secretId: 'erp' } }] } }),
      'config.clients[0].clientSecret must be left out with authMethod aws_web_identity',
    ],
    [
      'no webIdentity',
      () => ({ config: { clients: [{ ...KEYCLOAK, webIdentity: undefined }] } }),
      'config.clients[0].webIdentity is required with authMethod aws_web_identity',
    ],
    [
      'a secret given as a construct',
      (stack: ReturnType<typeof newTestStack>) => ({
        config: { clients: [KEYCLOAK] },
        clientSecrets: { erp: { secret: secretsmanager.Secret.fromSecretNameV2(stack, 'S', 'erp') } },
      }),
      'clientSecrets.erp: the client uses authMethod aws_web_identity, which takes no secret',
    ],
  ])('fails at synth time with %s', (_case, props, message) => {
    // Prepare
    const stack = newTestStack();

    // Act & Assess
    expect(() => new TokenBroker(stack, 'Broker', { vpcEndpoints: [importEndpoint(stack)], ...props(stack) })).toThrow(
      message,
    );
  });
});
