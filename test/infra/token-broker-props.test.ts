import { App, CfnParameter, Duration, Stack, Token } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import type { BrokerClientInput } from '../../lib/broker-config-input.ts';
import { TokenBroker } from '../../lib/token-broker.ts';
import type { TokenBrokerProps } from '../../lib/token-broker-props.ts';
import { importEndpoint, newTestStack, TEST_CONTEXT, TWO_CLIENTS } from './synth.ts';

type PropsFor = (stack: ReturnType<typeof newTestStack>) => Partial<TokenBrokerProps>;

function build(props: PropsFor): void {
  const stack = newTestStack();
  new TokenBroker(stack, 'Broker', { config: TWO_CLIENTS, vpcEndpoints: [importEndpoint(stack)], ...props(stack) });
}

const shop = TWO_CLIENTS.clients[0] as BrokerClientInput;

describe('Construct: TokenBroker props validation', () => {
  it.each<[string, PropsFor, string | RegExp]>([
    [
      'a literal secret in the configuration',
      () => ({ config: { clients: [{ ...shop, clientSecret: { value: 'hunter2' } as never }] } }),
      'Invalid props of Test/Broker: config.clients[0].clientSecret.value is a literal secret',
    ],
    [
      'an http token endpoint',
      () => ({ config: { clients: [{ ...shop, tokenEndpoint: 'http://auth.example.com/token' }] } }),
      'config.clients[0].tokenEndpoint must use https:',
    ],
    [
      'two clients with one name',
      () => ({ config: { clients: [shop, shop] } }),
      'config.clients[1].name "shop" is used by another client',
    ],
    ['no clients', () => ({ config: { clients: [] } }), 'config.clients must be a non-empty array'],
    [
      'a secret for a client that does not exist',
      (stack) => ({ clientSecrets: { shopp: { secret: secretsmanager.Secret.fromSecretNameV2(stack, 'S', 'x') } } }),
      'clientSecrets.shopp: no client named "shopp" in config.clients',
    ],
    [
      'a secret given twice',
      (stack) => ({ clientSecrets: { billing: { secret: secretsmanager.Secret.fromSecretNameV2(stack, 'S', 'x') } } }),
      'clientSecrets.billing: the client also has config clientSecret',
    ],
    ['neither vpc nor vpcEndpoints', () => ({ vpcEndpoints: undefined }), /exactly one of vpcEndpoints .* or vpc/],
    [
      'both vpc and vpcEndpoints',
      (stack) => ({ vpc: new ec2.Vpc(stack, 'Vpc') }),
      /exactly one of vpcEndpoints .* or vpc/,
    ],
    ['an empty vpcEndpoints', () => ({ vpcEndpoints: [] }), 'vpcEndpoints must not be empty'],
    [
      'an endpoint id that is not one',
      (stack) => ({ vpcEndpoints: [importEndpoint(stack, 'vpc-0123456789abcdef0')] }),
      'vpcEndpoints[0] has id "vpc-0123456789abcdef0", which is not a VPC endpoint id',
    ],
    ['a timeout of 29 s', () => ({ timeout: Duration.seconds(29) }), "timeout must be below API Gateway's 29 s"],
    [
      'a timeout within the token deadline',
      () => ({ timeout: Duration.seconds(15) }),
      'timeout (15 s) must exceed the largest client deadlineMs (15000 ms)',
    ],
    ['too little memory', () => ({ memorySize: 64 }), 'memorySize must be a whole number from 128 to 10240'],
    ['no reserved concurrency', () => ({ reservedConcurrency: 0 }), 'reservedConcurrency must be a whole number'],
    ['a rate of zero', () => ({ throttlingRateLimit: 0 }), 'throttlingRateLimit must be a number from 1'],
    ['a bad stage name', () => ({ stageName: 'v1/beta' }), 'stageName "v1/beta" must be 1 to 128 letters'],
    [
      'a service name that cannot be a metric dimension',
      () => ({ serviceName: 'orders broker' }),
      'serviceName "orders broker" must be 1 to 64 letters, digits, dots, hyphens or underscores',
    ],
    [
      'a warm-up interval in seconds',
      () => ({ warmUpInterval: Duration.seconds(90) }),
      'warmUpInterval must be a whole number of minutes',
    ],
    [
      'a warm-up interval whose look-ahead exceeds the broker bound',
      () => ({ warmUpInterval: Duration.hours(1) }),
      'warmUpInterval must be at most 59 minutes (got 1 hour): a warm-up looks ahead one interval plus 60 s',
    ],
    [
      'a cache namespace with a slash',
      () => ({ sharedCache: { namespace: 'orders/prod' } }),
      `sharedCache.namespace "orders/prod" must be 1 to 64 letters, digits, '.', '_' or '-'`,
    ],
    [
      'a cache key given as an alias',
      (stack) => ({ sharedCache: { key: kms.Alias.fromAliasName(stack, 'Alias', 'alias/token-cache') } }),
      'sharedCache.key is an alias: pass the key itself',
    ],
    [
      'a cache namespace too long for its uses',
      () => ({ sharedCache: { namespace: 'n'.repeat(65) } }),
      'sharedCache.namespace "nnn',
    ],
    [
      'an interval with warm-up off',
      () => ({ warmUp: false, warmUpInterval: Duration.minutes(5) }),
      'warmUpInterval is set but warmUp is false',
    ],
    [
      'a configuration too large for the environment',
      () => ({
        config: {
          clients: Array.from({ length: 30 }, (_, i) => ({ ...shop, name: `client-${i}`, scopes: ['read', 'write'] })),
        },
      }),
      /config is about \d+ bytes as JSON; it must fit in Lambda's 4096-byte environment/,
    ],
  ])('refuses %s, naming the prop', (_, props, message) => {
    expect(() => build(props)).toThrow(message);
  });

  it("makes room in the environment for the fleet cache's variables, and only when the cache is on", () => {
    const config = { clients: [{ ...shop, scopes: Array.from({ length: 290 }, (_, i) => `scope-${i}`) }] };

    expect(() => build(() => ({ config }))).toThrow(/config is about \d+ bytes as JSON/);
    expect(() => build(() => ({ config, sharedCache: false }))).not.toThrow();
  });

  it('accepts the longest warm-up interval whose look-ahead fits the bound', () => {
    expect(() => build(() => ({ warmUpInterval: Duration.minutes(59) }))).not.toThrow();
  });

  it('skips values that are still tokens', () => {
    expect(() =>
      build((stack) => ({
        config: {
          clients: [
            {
              ...shop,
              tokenEndpoint: new CfnParameter(stack, 'TokenEndpoint').valueAsString,
              clientSecret: { secretId: new CfnParameter(stack, 'SecretName').valueAsString },
            },
          ],
        },
        memorySize: Token.asNumber(new CfnParameter(stack, 'Memory', { type: 'Number' })),
        sharedCache: { namespace: new CfnParameter(stack, 'Namespace').valueAsString },
        vpcEndpoints: [importEndpoint(stack, new CfnParameter(stack, 'EndpointId').valueAsString)],
      })),
    ).not.toThrow();
  });

  it('refuses a client name that is a token: it becomes a resource path', () => {
    expect(() =>
      build((stack) => ({
        config: { clients: [{ ...shop, name: new CfnParameter(stack, 'Name').valueAsString }] },
      })),
    ).toThrow('config.clients[0].name must be a literal string');
  });

  it('refuses a second broker in the stack with the same service name, naming the first', () => {
    // Prepare
    const stack = newTestStack();
    const endpoints = [importEndpoint(stack)];
    new TokenBroker(stack, 'Orders', { config: TWO_CLIENTS, vpcEndpoints: endpoints });

    // Act
    const second = () => new TokenBroker(stack, 'Payroll', { config: TWO_CLIENTS, vpcEndpoints: endpoints });

    // Assess
    expect(second).toThrow(
      'Invalid props of Test/Payroll: serviceName "token-broker" is also the service name of Test/Orders',
    );
    expect(
      () =>
        new TokenBroker(stack, 'Billing', {
          config: TWO_CLIENTS,
          vpcEndpoints: endpoints,
          serviceName: 'billing-broker',
        }),
    ).not.toThrow();
  });

  it('warns of a broker with the same service name in another stack of the same account and region', () => {
    // Prepare
    const app = new App({ context: TEST_CONTEXT });
    const broker = (stackId: string, account: string) => {
      const stack = new Stack(app, stackId, { env: { account, region: 'eu-west-1' } });
      return new TokenBroker(stack, 'Broker', { config: TWO_CLIENTS, vpcEndpoints: [importEndpoint(stack)] });
    };
    broker('Orders', '111111111111');

    // Act
    const sameAccount = broker('Payroll', '111111111111');
    const otherAccount = broker('PayrollProd', '222222222222');

    // Assess
    const warnings = (construct: TokenBroker) =>
      Annotations.fromStack(Stack.of(construct))
        .findWarning(
          '*',
          Match.stringLikeRegexp('serviceName "token-broker" is also the service name of Orders/Broker'),
        )
        .map((w) => w.id);
    expect(warnings(sameAccount)).toEqual(['/Payroll/Broker']);
    expect(warnings(otherAccount)).toEqual([]);
  });
});
