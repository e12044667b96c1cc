import { type App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { CACHE_ENCRYPTION_CONTEXT } from '../../lambda/shared/contract.ts';
import { RESOURCE_POLICY_MAX_LENGTH } from '../../lib/private-token-api.ts';
import { TokenBroker } from '../../lib/token-broker.ts';
import type { TokenBrokerProps } from '../../lib/token-broker-props.ts';
import { asArray, EXISTING_ENDPOINT_ID, importEndpoint, newTestStack, TWO_CLIENTS } from './synth.ts';

const EXTERNAL_ROLE_ARN = 'arn:aws:iam::123456789012:role/teams/orders-fn';

interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Principal: unknown;
  readonly Action: string | string[];
  readonly Resource: string | string[];
  readonly Condition?: Record<string, Record<string, unknown>>;
}

function build(props: Partial<TokenBrokerProps> = {}, stack = newTestStack()) {
  const broker = new TokenBroker(stack, 'Broker', {
    config: TWO_CLIENTS,
    vpcEndpoints: [importEndpoint(stack)],
    ...props,
  });
  const role = (id: string) => new iam.Role(stack, id, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  return { stack, broker, role };
}

function apiPolicy(template: Template): PolicyStatement[] {
  const [api] = Object.values(template.findResources('AWS::ApiGateway::RestApi'));
  if (!api) throw new Error('No REST API in the template');
  return (api.Properties.Policy as { Statement: PolicyStatement[] }).Statement;
}

/**
 * Whether the API's resource policy by itself denies `principal` (its ARN as the template has
 * it) a GET on `client`'s token route through `vpce`. It evaluates the statement shapes the
 * construct writes: a Deny for everyone, unconditional, on `aws:PrincipalArn` (ArnNotEquals) or
 * on `aws:SourceVpce` (StringNotEquals). For a same-account IAM caller an explicit Deny wins over
 * any Allow in its own policies.
 */
function deniedByPolicy(policy: PolicyStatement[], principal: unknown, client: string, vpce: string): boolean {
  const resource = `execute-api:/v1/GET/clients/${client}/token`;
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  return policy.some((s) => {
    if (s.Effect !== 'Deny' || !same(s.Principal, { AWS: '*' })) return false;
    const covers = asArray(s.Resource).some((r) =>
      new RegExp(`^${r.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`).test(resource),
    );
    if (!covers || !asArray(s.Action).includes('execute-api:Invoke')) return false;
    return Object.entries(s.Condition ?? {}).every(([operator, keys]) =>
      Object.entries(keys).every(([key, values]) => {
        const listed = asArray(values as unknown[]);
        if (operator === 'ArnNotEquals' && key === 'aws:PrincipalArn') return !listed.some((v) => same(v, principal));
        if (operator === 'StringNotEquals' && key === 'aws:SourceVpce') return !listed.includes(vpce);
        throw new Error(`The evaluator does not know ${operator} ${key}`);
      }),
    );
  });
}

describe('Construct: TokenBroker strict token access (default)', () => {
  it('writes one Deny per client for every principal but the ones granted that client', () => {
    // Prepare
    const { stack, broker, role } = build();
    const orders = role('Orders');
    const invoices = role('Invoices');

    // Act
    broker.grantTokenAccess(orders, 'shop');
    broker.grantTokenAccess(invoices, 'billing');

    // Assess
    const policy = apiPolicy(Template.fromStack(stack));
    expect(policy.filter((s) => s.Sid?.startsWith('OnlyGrantees'))).toEqual([
      {
        Sid: 'OnlyGranteesGetClient0Tokens',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 'execute-api:Invoke',
        Resource: 'execute-api:/*/GET/clients/shop/token',
        Condition: { ArnNotEquals: { 'aws:PrincipalArn': [stack.resolve(orders.roleArn)] } },
      },
      {
        Sid: 'OnlyGranteesGetClient1Tokens',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 'execute-api:Invoke',
        Resource: 'execute-api:/*/GET/clients/billing/token',
        Condition: { ArnNotEquals: { 'aws:PrincipalArn': [stack.resolve(invoices.roleArn)] } },
      },
    ]);
    expect(policy.filter((s) => s.Effect === 'Allow')).toEqual([]);
  });

  it("denies an ungranted principal a client's route by the resource policy itself", () => {
    // Prepare: "orders" has shop; "invoices" has billing and, say, execute-api:Invoke on * in its IAM policy.
    const { stack, broker, role } = build();
    const orders = role('Orders');
    const invoices = role('Invoices');
    broker.grantTokenAccess(orders, 'shop');
    broker.grantTokenAccess(invoices, 'billing');
    invoices.addToPolicy(new iam.PolicyStatement({ actions: ['execute-api:Invoke'], resources: ['*'] }));

    // Act
    const policy = apiPolicy(Template.fromStack(stack));
    const denied = (r: iam.Role, client: string, vpce = EXISTING_ENDPOINT_ID) =>
      deniedByPolicy(policy, stack.resolve(r.roleArn), client, vpce);

    // Assess
    expect(denied(invoices, 'shop')).toBe(true);
    expect(denied(orders, 'billing')).toBe(true);
    expect(denied(orders, 'shop')).toBe(false);
    expect(denied(invoices, 'billing')).toBe(false);
    expect(denied(orders, 'shop', 'vpce-0fffffffffffffff0')).toBe(true);
  });

  it('denies a client granted to nobody to everyone', () => {
    const { stack } = build();

    const policy = apiPolicy(Template.fromStack(stack));

    expect(policy.find((s) => s.Resource === 'execute-api:/*/GET/clients/shop/token')).not.toHaveProperty('Condition');
    expect(deniedByPolicy(policy, EXTERNAL_ROLE_ARN, 'shop', EXISTING_ENDPOINT_ID)).toBe(true);
  });

  it('admits a role this app does not manage by its literal ARN, once however often it is granted', () => {
    const { stack, broker } = build();
    const external = iam.Role.fromRoleArn(stack, 'External', EXTERNAL_ROLE_ARN, { mutable: false });

    broker.grantTokenAccess(external, 'shop');
    broker.grantTokenAccess(external, 'shop');

    const policy = apiPolicy(Template.fromStack(stack));
    expect(policy.find((s) => s.Sid === 'OnlyGranteesGetClient0Tokens')?.Condition).toEqual({
      ArnNotEquals: { 'aws:PrincipalArn': [EXTERNAL_ROLE_ARN] },
    });
    expect(deniedByPolicy(policy, EXTERNAL_ROLE_ARN, 'shop', EXISTING_ENDPOINT_ID)).toBe(false);
  });

  it('redeploys the stage when the grants change: the resource policy takes effect only with a deployment', () => {
    const deploymentId = (grant: boolean) => {
      const { stack, broker } = build();
      if (grant) broker.grantTokenAccess(iam.Role.fromRoleArn(stack, 'External', EXTERNAL_ROLE_ARN), 'shop');
      return Object.keys(Template.fromStack(stack).findResources('AWS::ApiGateway::Deployment'));
    };

    expect(deploymentId(true)).not.toEqual(deploymentId(false));
  });

  it.each<[string, (stack: Stack) => iam.IGrantable, string | RegExp]>([
    [
      'a service principal',
      () => new iam.ServicePrincipal('lambda.amazonaws.com'),
      'grantTokenAccess(shop): the grantee has no single IAM principal ARN',
    ],
    ['the account', () => new iam.AccountRootPrincipal(), 'grantTokenAccess(shop): the grantee is a whole account'],
    [
      'an IAM group',
      (stack) => new iam.Group(stack, 'Group'),
      'grantTokenAccess(shop): the grantee cannot be named in a resource policy',
    ],
    [
      "a session's assumed-role ARN",
      () => new iam.ArnPrincipal('arn:aws:sts::123456789012:assumed-role/orders-fn/session'),
      /is not the ARN of an IAM role or user .* name the role, not a session's assumed-role ARN/,
    ],
    [
      "another account's role, which a deny-only resource policy cannot admit",
      () => new iam.ArnPrincipal('arn:aws:iam::210987654321:role/orders-fn'),
      /"arn:aws:iam::210987654321:role\/orders-fn" is in account 210987654321, the broker in 123456789012\. .* 403/,
    ],
    [
      'a role in another stack',
      (stack) =>
        new iam.Role(new Stack(stack.node.root as App, 'Consumers'), 'Orders', {
          assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        }),
      /Consumers\/Orders is in stack Consumers and the broker in Test; .* would make each stack depend on the other/,
    ],
  ])('refuses to grant %s, which the resource policy cannot name', (_, grantee, message) => {
    const { stack, broker } = build();

    expect(() => broker.grantTokenAccess(grantee(stack), 'shop')).toThrow(message);
  });

  it("fails synthesis, naming the construct, when the resource policy would exceed API Gateway's limit", () => {
    // Prepare: a role per function instead of one per team.
    const { stack, broker, role } = build();
    for (let i = 0; i < 60; i++) broker.grantTokenAccess(role(`Fn${i}`), 'shop');

    // Act
    const synth = () => Template.fromStack(stack);

    // Assess
    expect(synth).toThrow(
      new RegExp(
        `\\[Test/Broker/Api\\] The API's resource policy would be about \\d+ characters, over API Gateway's limit of ${RESOURCE_POLICY_MAX_LENGTH}`,
      ),
    );
  });

  it('accepts as many grants as fit the limit', () => {
    const { stack, broker, role } = build();
    for (let i = 0; i < 20; i++) broker.grantTokenAccess(role(`Fn${i}`), i % 2 ? 'shop' : 'billing');

    expect(() => Template.fromStack(stack)).not.toThrow();
  });
});

describe('Construct: TokenBroker with strictTokenAccess: false', () => {
  it('leaves the decision to IAM: no per-client statement, any principal can be granted', () => {
    const { stack, broker } = build({ strictTokenAccess: false });

    broker.grantTokenAccess(new iam.ArnPrincipal('arn:aws:iam::123456789012:root'), 'shop');

    expect(apiPolicy(Template.fromStack(stack)).map((s) => s.Sid)).toEqual(['DenyUnlessThroughAllowedVpcEndpoints']);
  });
});

describe('Construct: TokenBroker secrets and fleet cache key, open to the broker only', () => {
  const namespaceCondition = `kms:EncryptionContext:${CACHE_ENCRYPTION_CONTEXT.namespaceKey}`;

  function setUp(props: (stack: Stack) => Partial<TokenBrokerProps> = () => ({})) {
    const stack = newTestStack();
    const { broker } = build(props(stack), stack);
    const template = Template.fromStack(stack);
    const brokerRoleArn = stack.resolve((broker.function.role as iam.Role).roleArn);
    return { stack, broker, template, brokerRoleArn };
  }

  it("denies reading a created secret's value to everyone but the broker's role, and leaves passed-in secrets alone", () => {
    const { template, brokerRoleArn } = setUp();

    template.resourceCountIs('AWS::SecretsManager::ResourcePolicy', 1);
    template.hasResourceProperties('AWS::SecretsManager::ResourcePolicy', {
      SecretId: { Ref: Match.stringLikeRegexp('Clientshop') },
      ResourcePolicy: {
        Statement: [
          {
            Sid: 'OnlyTheBrokerReadsTheValue',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'secretsmanager:GetSecretValue',
            Resource: '*',
            Condition: { ArnNotEquals: { 'aws:PrincipalArn': [brokerRoleArn] } },
          },
        ],
      },
    });
  });

  it('lets the account administer the cache key but not use it; the key policy admits the broker, by ARN in a condition, for its namespace', () => {
    const { template, broker, brokerRoleArn } = setUp();

    const [key] = Object.values(template.findResources('AWS::KMS::Key'));
    const statements = key?.Properties.KeyPolicy.Statement as PolicyStatement[];
    const accountStatement = statements.find((s) => s.Sid === 'AccountAdministersTheKeyButCannotUseIt');
    expect(accountStatement?.Principal).toEqual({ AWS: 'arn:aws:iam::123456789012:root' });
    for (const action of asArray(accountStatement?.Action ?? [])) {
      expect(action).not.toMatch(/^kms:(\*|Decrypt|Encrypt|GenerateDataKey|ReEncrypt|CreateGrant|Create\*)/);
    }
    expect(statements.filter((s) => s.Sid !== accountStatement?.Sid)).toEqual([
      {
        // The account as principal: KMS would refuse a role it cannot see yet, as a role created in
        // the same deployment may be. The condition keeps the key to the broker's role.
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::123456789012:root' },
        Action: expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey']),
        Resource: '*',
        Condition: {
          StringEquals: { [namespaceCondition]: broker.sharedCache?.namespace },
          ArnEquals: { 'aws:PrincipalArn': brokerRoleArn },
        },
      },
    ]);
  });

  it('exempts the break-glass role from the secret policy and lets it decrypt cached tokens', () => {
    const { template } = setUp((stack) => ({
      breakGlassRole: iam.Role.fromRoleArn(stack, 'BreakGlass', 'arn:aws:iam::123456789012:role/break-glass'),
    }));

    template.hasResourceProperties('AWS::SecretsManager::ResourcePolicy', {
      ResourcePolicy: {
        Statement: [
          Match.objectLike({
            Condition: {
              ArnNotEquals: { 'aws:PrincipalArn': [Match.anyValue(), 'arn:aws:iam::123456789012:role/break-glass'] },
            },
          }),
        ],
      },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          {
            Sid: 'BreakGlassDecrypt',
            Effect: 'Allow',
            Principal: { AWS: 'arn:aws:iam::123456789012:role/break-glass' },
            Action: 'kms:Decrypt',
            Resource: '*',
          },
        ]),
      },
    });
  });
});
