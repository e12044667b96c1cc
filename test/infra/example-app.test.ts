import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildExampleApp } from '../../bin/example-app.ts';
import { ENV } from '../../lambda/shared/contract.ts';
import type { TokenBrokerStack } from '../../lib/token-broker-stack.ts';
import { EXISTING_ENDPOINT_ID, TEST_CONTEXT } from './synth.ts';

interface Synthesized {
  readonly stack: TokenBrokerStack;
  readonly template: Template;
  /** Findings cdk-nag left unacknowledged (none when synthesis passes validation). */
  readonly findings: string[];
}

/**
 * Synthesizes the example app as `cdk synth` does, with cdk-nag's AwsSolutions checks. `extend`
 * adds constructs to the stack before synthesis (the positive control adds a known violation).
 */
function synthExampleApp(
  context: Record<string, string> = {},
  extend: (stack: TokenBrokerStack) => void = () => {},
): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'token-broker-app-'));
  const app = new App({ outdir, context: { ...TEST_CONTEXT, ...context } });
  const stack = buildExampleApp(app);
  extend(stack);
  let failure: unknown;
  try {
    app.synth();
  } catch (error) {
    failure = error;
  }
  const reportFile = join(outdir, 'validation-report.json');
  const findings = existsSync(reportFile) ? findingsIn(JSON.parse(readFileSync(reportFile, 'utf8'))) : [];
  if (failure && findings.length === 0) throw failure;
  // From the file synthesis wrote: Template.fromStack would synthesize again and throw on the findings.
  const template = Template.fromJSON(JSON.parse(readFileSync(join(outdir, stack.templateFile), 'utf8')));
  return { stack, template, findings };
}

/** The functions built from this repository's code (`index.handler`), not CDK's custom resource providers. */
function ownFunctions(template: Template): Record<string, unknown>[] {
  return Object.values(template.findResources('AWS::Lambda::Function', { Properties: { Handler: 'index.handler' } }));
}

function findingsIn(report: {
  pluginReports: { violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[] }[];
}): string[] {
  return report.pluginReports.flatMap((p) =>
    p.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} at ${c.constructPath}`)),
  );
}

/** Every acknowledgement recorded in the tree: `[path, rule id, reason]`. */
function acknowledgements(root: IConstruct): [string, string, string][] {
  return root.node
    .findAll()
    .flatMap((c) =>
      c.node.metadata
        .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((m) =>
          Object.entries(m.data as Record<string, string>).map(([id, reason]) => [c.node.path, id, reason]),
        ),
    ) as [string, string, string][];
}

describe('App: example (new VPC, example consumer)', () => {
  let synthesized: Synthesized;

  beforeAll(() => {
    synthesized = synthExampleApp();
  });

  it('passes cdk-nag AwsSolutions checks with no unacknowledged finding', () => {
    expect(synthesized.findings).toEqual([]);
  });

  it('gives every acknowledgement a specific reason', () => {
    const acks = acknowledgements(synthesized.stack).filter(([, id]) => id.startsWith('AwsSolutions::'));

    expect(acks.length).toBeGreaterThan(0);
    for (const [path, id, reason] of acks) {
      expect(reason.length, `${id} at ${path}`).toBeGreaterThan(60);
    }
    expect(new Set(acks.map(([, , reason]) => reason)).size).toBeGreaterThan(5);
  });

  it('builds a minimal VPC: isolated subnets only, no NAT, flow logs on, default security group emptied', () => {
    const { template } = synthesized;

    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    template.resourceCountIs('AWS::EC2::Subnet', 2);
    template.hasResourceProperties('AWS::EC2::FlowLog', { ResourceType: 'VPC' });
    template.hasResourceProperties('Custom::VpcRestrictDefaultSG', {
      DefaultSecurityGroupId: { 'Fn::GetAtt': [Match.anyValue(), 'DefaultSecurityGroup'] },
    });
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      ServiceName: { 'Fn::Join': ['', Match.arrayWith(['.execute-api'])] },
    });
  });

  it('wires the example consumer to the first client: URL, client name, and that one method ARN', () => {
    const { template, stack } = synthesized;

    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      VpcConfig: Match.anyValue(),
      Environment: {
        Variables: Match.objectLike({
          [ENV.brokerUrl]: stack.resolve(stack.broker.brokerUrl),
          TOKEN_BROKER_CLIENT: 'shop',
        }),
      },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Action: 'execute-api:Invoke',
            Resource: { 'Fn::Join': ['', Match.arrayWith(['/GET/clients/shop/token'])] },
          }),
        ],
      },
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', { IpProtocol: 'tcp', FromPort: 443, ToPort: 443 });
  });

  it('creates the fleet token cache and points the broker at it', () => {
    const { template } = synthesized;

    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [ENV.tokenCacheTable]: Match.anyValue(),
          [ENV.tokenCacheKeyId]: Match.anyValue(),
          [ENV.tokenCacheNamespace]: Match.anyValue(),
        }),
      },
    });
  });

  it("creates API Gateway's logging role, which access logs need", () => {
    synthesized.template.resourceCountIs('AWS::ApiGateway::Account', 1);
  });
});

describe('App: example (outputs for application teams)', () => {
  it('outputs the REST API id, each client method ARN, and the VPC, subnets and endpoint it made', () => {
    const { template, stack } = synthExampleApp();
    const outputs = template.findOutputs('*');
    const byDescription = (text: string) => Object.values(outputs).filter((o) => String(o.Description).includes(text));

    expect(byDescription('REST API id')).toEqual([
      expect.objectContaining({ Value: stack.resolve(stack.broker.api.api.restApiId) }),
    ]);
    expect(byDescription('client "shop"')).toEqual([
      expect.objectContaining({ Value: stack.resolve(stack.broker.api.tokenMethod('shop')?.methodArn) }),
    ]);
    expect(outputs.VpcId?.Value).toEqual(stack.resolve(stack.vpc?.vpcId));
    expect(outputs.CallerSubnetIds?.Value).toEqual({ 'Fn::Join': [',', [expect.anything(), expect.anything()]] });
    expect(outputs.ExecuteApiEndpointId?.Value).toEqual(stack.resolve(stack.broker.vpcEndpoint?.vpcEndpointId));
  });

  it('outputs the endpoint-specific URL for an existing endpoint, and no network of its own', () => {
    const { template } = synthExampleApp({ vpcEndpointId: EXISTING_ENDPOINT_ID, apiGatewayCloudWatchRole: 'false' });
    const outputs = template.findOutputs('*');

    expect(outputs.BrokerUrlViaEndpoint?.Value).toEqual({
      'Fn::Join': [
        '',
        [
          'https://',
          { Ref: expect.stringMatching(/^TokenBrokerApi/) },
          `-${EXISTING_ENDPOINT_ID}.execute-api.`,
          { Ref: 'AWS::Region' },
          '.',
          { Ref: 'AWS::URLSuffix' },
          '/',
          { Ref: expect.stringMatching(/^TokenBrokerApiDeploymentStagev1/) },
          '/',
        ],
      ],
    });
    expect(outputs).not.toHaveProperty('VpcId');
  });
});

describe('App: example (alarm e-mail)', () => {
  it('notifies the address of every alarm and recovery, and still passes cdk-nag', () => {
    const { template, findings } = synthExampleApp({ alarmEmail: 'platform-oncall@example.com' });

    expect(findings).toEqual([]);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'platform-oncall@example.com',
      TopicArn: { Ref: Match.stringLikeRegexp('^AlarmTopic') },
    });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBeGreaterThan(5);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^AlarmTopic/) }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: expect.stringMatching(/^AlarmTopic/) }]);
    }
  });

  it("lets this account's CloudWatch alarms publish to the topic, whose policy replaces SNS's default one", () => {
    const { template } = synthExampleApp({ alarmEmail: 'platform-oncall@example.com' });

    const [policy] = Object.values(template.findResources('AWS::SNS::TopicPolicy'));
    if (!policy) throw new Error('no topic policy');
    const statements = (policy.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement;
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Condition: expect.objectContaining({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }),
      }),
    );
    // The SSL statement only denies: without the statement above nothing may publish.
    expect(statements.filter((s) => s.Effect === 'Allow')).toHaveLength(1);
  });

  it('refuses an address that is not one', () => {
    expect(() => synthExampleApp({ alarmEmail: 'oncall' })).toThrow('alarmEmail "oncall" is not an e-mail address');
  });
});

describe('App: example (broker in the VPC)', () => {
  function brokerVpcConfig(template: Template): { SubnetIds: unknown[]; SecurityGroupIds: unknown[] } {
    const [broker] = Object.values(
      template.findResources('AWS::Lambda::Function', {
        Properties: { Environment: { Variables: { [ENV.brokerConfig]: Match.anyValue() } } },
      }),
    );
    return broker?.Properties.VpcConfig;
  }

  it('with endpoints: isolated subnets, Secrets Manager and KMS endpoints for the broker only, DynamoDB gateway', () => {
    const { template, findings } = synthExampleApp({ brokerNetwork: 'endpoints', authServerCidrs: '10.20.0.0/16' });

    expect(findings).toEqual([]);
    expect(brokerVpcConfig(template).SubnetIds).toHaveLength(2);
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    for (const service of ['.secretsmanager', '.kms']) {
      template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        ServiceName: { 'Fn::Join': ['', Match.arrayWith([service])] },
        VpcEndpointType: 'Interface',
        PrivateDnsEnabled: true,
      });
    }
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      ServiceName: { 'Fn::Join': ['', Match.arrayWith(['.dynamodb'])] },
      VpcEndpointType: 'Gateway',
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('^Token broker function'),
      SecurityGroupEgress: [Match.objectLike({ CidrIp: '10.20.0.0/16', FromPort: 443, ToPort: 443 })],
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      DestinationPrefixListId: {
        'Fn::GetAtt': [Match.stringLikeRegexp('^DynamoDbPrefixList'), 'PrefixLists.0.PrefixListId'],
      },
      FromPort: 443,
    });
    // The service endpoints admit the broker's security group, not the VPC.
    for (const group of Object.values(template.findResources('AWS::EC2::SecurityGroup'))) {
      if (String(group.Properties.GroupDescription).match(/(SecretsManager|Kms)Endpoint/)) {
        expect(group.Properties.SecurityGroupIngress).toBeUndefined();
      }
    }
  });

  it('with endpoints and an aws_web_identity client: an STS interface endpoint too (none without one)', () => {
    // Prepare
    const config = join(mkdtempSync(join(tmpdir(), 'token-broker-config-')), 'clients.json');
    writeFileSync(
      config,
      JSON.stringify({
        clients: [
          {
            name: 'shop',
            tokenEndpoint: 'https://keycloak.example.com/realms/m2m/protocol/openid-connect/token',
            clientId: 'shop',
            authMethod: 'aws_web_identity',
            webIdentity: { audience: 'https://keycloak.example.com/realms/m2m' },
          },
        ],
      }),
    );
    const stsEndpoint = { ServiceName: { 'Fn::Join': ['', Match.arrayWith(['.sts'])] }, VpcEndpointType: 'Interface' };

    // Act
    const federated = synthExampleApp({ brokerNetwork: 'endpoints', authServerCidrs: '10.20.0.0/16', config });
    const plain = synthExampleApp({ brokerNetwork: 'endpoints', authServerCidrs: '10.20.0.0/16' });

    // Assess
    expect(federated.findings).toEqual([]);
    federated.template.hasResourceProperties('AWS::EC2::VPCEndpoint', stsEndpoint);
    expect(Object.keys(plain.template.findResources('AWS::EC2::VPCEndpoint', { Properties: stsEndpoint }))).toEqual([]);
  });

  it('with nat: private subnets behind one NAT gateway, HTTPS out to anywhere', () => {
    const { template, findings } = synthExampleApp({ brokerNetwork: 'nat' });

    expect(findings).toEqual([]);
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    expect(brokerVpcConfig(template).SubnetIds).toHaveLength(2);
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('^Token broker function'),
      SecurityGroupEgress: [Match.objectLike({ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443 })],
    });
  });

  it('refuses endpoints without a way to the authorization servers', () => {
    expect(() => synthExampleApp({ brokerNetwork: 'endpoints' })).toThrow(
      'brokerNetwork "endpoints" has no way to the internet: give authServerCidrs',
    );
  });
});

describe('App: example (grants to other teams)', () => {
  it("admits the roles of the grants file in each client's statement", () => {
    const dir = mkdtempSync(join(tmpdir(), 'token-broker-grants-'));
    const file = join(dir, 'grants.json');
    writeFileSync(file, JSON.stringify({ shop: ['arn:aws:iam::123456789012:role/orders-fn'] }));

    const { template } = synthExampleApp({ grants: file, consumer: 'false' });

    template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      Policy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Resource: 'execute-api:/*/GET/clients/shop/token',
            Condition: { ArnNotEquals: { 'aws:PrincipalArn': ['arn:aws:iam::123456789012:role/orders-fn'] } },
          }),
        ]),
      },
    });
  });
});

describe('App: example (cdk-nag positive control)', () => {
  it('reports a queue without SSL enforcement added to the app, so "no finding" above means cdk-nag ran', () => {
    // Prepare: the variant the tests above synthesize, plus one construct cdk-nag must flag.
    const addQueueWithoutSsl = (stack: TokenBrokerStack) => new sqs.Queue(stack, 'QueueWithoutSsl');

    // Act
    const { findings } = synthExampleApp(
      { vpcEndpointId: EXISTING_ENDPOINT_ID, apiGatewayCloudWatchRole: 'false' },
      addQueueWithoutSsl,
    );

    // Assess
    expect(findings).toContain('AwsSolutions-SQS4 at TokenBroker/QueueWithoutSsl/Resource');
  });
});

describe('App: example (context variants)', () => {
  it('uses an existing endpoint by id, without VPC or consumer, and still passes cdk-nag', () => {
    const { template, findings } = synthExampleApp({
      vpcEndpointId: EXISTING_ENDPOINT_ID,
      apiGatewayCloudWatchRole: 'false',
    });

    expect(findings).toEqual([]);
    template.resourceCountIs('AWS::EC2::VPC', 0);
    template.resourceCountIs('AWS::ApiGateway::Account', 0);
    template.resourceCountIs('AWS::Lambda::Function', 1);
    expect(ownFunctions(template)).toHaveLength(1);
    template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      EndpointConfiguration: { Types: ['PRIVATE'], VpcEndpointIds: [EXISTING_ENDPOINT_ID] },
    });
  });

  it.each([
    [
      { account: '123456789012', region: 'eu-west-1' },
      [0, 1].map((i) => JSON.stringify({ 'Fn::Select': [i, { 'Fn::GetAZs': '' }] })),
    ],
    [
      { account: '123456789012', region: 'eu-west-1', availabilityZones: 'eu-west-1b,eu-west-1c' },
      ['"eu-west-1b"', '"eu-west-1c"'],
    ],
  ])('synthesizes with account and region without a lookup (no credentials): %j', (context, zones) => {
    // Prepare
    const app = new App({
      outdir: mkdtempSync(join(tmpdir(), 'token-broker-app-')),
      context: { ...TEST_CONTEXT, ...context },
    });
    const stack = buildExampleApp(app);

    // Act
    const assembly = app.synth();

    // Assess: nothing for the CLI to look up (which would need credentials).
    expect(assembly.manifest.missing ?? []).toEqual([]);
    const subnets = Template.fromStack(stack).findResources('AWS::EC2::Subnet');
    expect(new Set(Object.values(subnets).map((s) => JSON.stringify(s.Properties.AvailabilityZone)))).toEqual(
      new Set(zones),
    );
  });

  it('refuses availabilityZones with fewer than two zones', () => {
    expect(() => synthExampleApp({ availabilityZones: 'eu-west-1a' })).toThrow(
      'availabilityZones needs at least two zones (got 1)',
    );
  });

  it('leaves the consumer out with consumer=false', () => {
    const { template } = synthExampleApp({ consumer: 'false' });

    expect(ownFunctions(template)).toHaveLength(1);
    template.resourceCountIs('AWS::EC2::VPC', 1);
  });

  it('leaves the fleet cache out with sharedCache=false, and still passes cdk-nag', () => {
    const { template, findings } = synthExampleApp({ sharedCache: 'false' });

    expect(findings).toEqual([]);
    template.resourceCountIs('AWS::DynamoDB::Table', 0);
    template.resourceCountIs('AWS::KMS::Key', 0);
    const brokers = Object.values(
      template.findResources('AWS::Lambda::Function', {
        Properties: { Environment: { Variables: { [ENV.brokerConfig]: Match.anyValue() } } },
      }),
    );
    expect(brokers).toHaveLength(1);
    expect(brokers[0]?.Properties.Environment.Variables).not.toHaveProperty(ENV.tokenCacheTable);
  });

  it('refuses a sharedCache context value that is not a boolean', () => {
    expect(() => synthExampleApp({ sharedCache: 'off' })).toThrow(
      'Context sharedCache must be true or false (got "off")',
    );
  });

  it('reads the clients from the file named by context config', () => {
    const dir = mkdtempSync(join(tmpdir(), 'token-broker-config-'));
    const file = join(dir, 'clients.json');
    writeFileSync(
      file,
      JSON.stringify({
        clients: [
          {
            name: 'erp',
            tokenEndpoint: 'https://idp.example.com/token',
            clientId: 'erp',
            clientSecret: { secretId: 'erp' },
          },
        ],
      }),
    );

    const { template } = synthExampleApp({ config: file, consumer: 'false' });

    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: 'erp' });
  });

  it('passes cdk-nag with an aws_web_identity client: no secret, sts:GetWebIdentityToken on Resource *', () => {
    const dir = mkdtempSync(join(tmpdir(), 'token-broker-config-'));
    const file = join(dir, 'clients.json');
    writeFileSync(
      file,
      JSON.stringify({
        clients: [
          {
            name: 'erp',
            tokenEndpoint: 'https://keycloak.example.com/realms/m2m/protocol/openid-connect/token',
            clientId: 'erp',
            authMethod: 'aws_web_identity',
            webIdentity: { audience: 'https://keycloak.example.com/realms/m2m' },
          },
        ],
      }),
    );

    const { template, findings } = synthExampleApp({ config: file, consumer: 'false' });

    expect(findings).toEqual([]);
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Action: 'sts:GetWebIdentityToken', Resource: '*' })]),
      },
    });
  });

  it('fails with the field name when the config file is invalid', () => {
    const dir = mkdtempSync(join(tmpdir(), 'token-broker-config-'));
    const file = join(dir, 'clients.json');
    writeFileSync(file, JSON.stringify({ clients: [{ name: 'Shop', tokenEndpoint: 'https://x', clientId: 'a' }] }));

    expect(() => synthExampleApp({ config: file })).toThrow('config.clients[0].name "Shop" must match [a-z0-9-]{1,64}');
  });

  it('refuses the consumer together with an existing endpoint', () => {
    expect(() => synthExampleApp({ vpcEndpointId: EXISTING_ENDPOINT_ID, consumer: 'true' })).toThrow(
      'exampleConsumer needs the VPC this stack creates',
    );
  });
});
