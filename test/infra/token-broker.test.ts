import { Duration, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseBrokerConfigJson } from '../../lambda/broker/core/config.ts';
import {
  CACHE_ENCRYPTION_CONTEXT,
  ENV,
  METRIC,
  METRICS_NAMESPACE,
  SERVICE_NAME,
  warmUpEvent,
} from '../../lambda/shared/contract.ts';
import { TokenBroker } from '../../lib/token-broker.ts';
import { asArray, EXISTING_ENDPOINT_ID, importEndpoint, newTestStack, policyStatements, TWO_CLIENTS } from './synth.ts';

const REPORTS_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:reports-AbCdEf';
const REPORTS_KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555';

/** Resolves `Fn::Join`/`Ref` of an environment variable to text, secrets becoming fake ARNs. */
function resolveJoin(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as { 'Fn::Join'?: [string, unknown[]]; Ref?: string };
  if (v['Fn::Join']) return v['Fn::Join'][1].map(resolveJoin).join(v['Fn::Join'][0]);
  if (v.Ref === 'AWS::Partition') return 'aws';
  if (v.Ref) return `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${v.Ref}-AbCdEf`;
  throw new Error(`Cannot resolve ${JSON.stringify(value)}`);
}

function brokerFunction(template: Template): Record<string, unknown> {
  const functions = template.findResources('AWS::Lambda::Function', {
    Properties: { Environment: { Variables: { [ENV.brokerConfig]: Match.anyValue() } } },
  });
  const [fn] = Object.values(functions);
  if (!fn) throw new Error('No broker function in the template');
  return fn.Properties as Record<string, unknown>;
}

describe('Construct: TokenBroker (endpoint created in a VPC)', () => {
  let stack: Stack;
  let broker: TokenBroker;
  let template: Template;

  beforeAll(() => {
    // Prepare: three clients, one secret of each kind (placeholder, named in config, ISecret with a key).
    stack = newTestStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, maxAzs: 2 });
    const reportsSecret = secretsmanager.Secret.fromSecretAttributes(stack, 'ReportsSecret', {
      secretCompleteArn: REPORTS_SECRET_ARN,
      encryptionKey: kms.Key.fromKeyArn(stack, 'ReportsKey', REPORTS_KEY_ARN),
    });
    broker = new TokenBroker(stack, 'Broker', {
      config: {
        clients: [
          ...TWO_CLIENTS.clients,
          { name: 'reports', tokenEndpoint: 'https://auth.example.com/token', clientId: 'reports' },
        ],
      },
      clientSecrets: { reports: { secret: reportsSecret } },
      vpc,
      alarmTopic: new sns.Topic(stack, 'Alarms'),
    });
    template = Template.fromStack(stack);
  });

  it('creates a private API reachable only through the execute-api endpoint it creates', () => {
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      ServiceName: Match.stringLikeRegexp('execute-api'),
      VpcEndpointType: 'Interface',
      PrivateDnsEnabled: true,
    });
    const endpointRef = { Ref: Match.stringLikeRegexp('ExecuteApiEndpoint') };
    template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      EndpointConfiguration: { Types: ['PRIVATE'], VpcEndpointIds: [endpointRef] },
      Policy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'execute-api:Invoke',
            Resource: 'execute-api:/*',
            Condition: { StringNotEquals: { 'aws:SourceVpce': [endpointRef] } },
          }),
        ]),
      },
    });
  });

  it('grants nothing through the resource policy: it holds no Allow at all', () => {
    const apis = Object.values(template.findResources('AWS::ApiGateway::RestApi'));
    const statements = apis.flatMap((api) => (api.Properties.Policy as { Statement: { Effect: string }[] }).Statement);

    expect(statements.length).toBeGreaterThan(0);
    expect(statements.filter((s) => s.Effect !== 'Deny')).toEqual([]);
  });

  it('gives every client its own GET /clients/{name}/token method, authorized by IAM', () => {
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method'));
    const paths = Object.values(template.findResources('AWS::ApiGateway::Resource')).map((r) => r.Properties.PathPart);

    expect(methods).toHaveLength(3);
    for (const method of methods) {
      expect(method.Properties).toMatchObject({
        HttpMethod: 'GET',
        AuthorizationType: 'AWS_IAM',
        RequestParameters: { 'method.request.querystring.scope': false },
        RequestValidatorId: expect.anything(),
      });
    }
    expect(paths.sort()).toEqual(['billing', 'clients', 'reports', 'shop', 'token', 'token', 'token'].sort());
    template.hasResourceProperties('AWS::ApiGateway::RequestValidator', { ValidateRequestParameters: true });
  });

  it('throttles, traces and access-logs the stage as JSON, without request or response bodies', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v1',
      TracingEnabled: true,
      AccessLogSetting: { Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"') },
      MethodSettings: [
        Match.objectLike({
          HttpMethod: '*',
          ResourcePath: '/*',
          ThrottlingRateLimit: 50,
          ThrottlingBurstLimit: 100,
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
        }),
      ],
    });
  });

  it('runs the broker on the newest Node.js runtime, on arm64, below API Gateway timeout', () => {
    const fn = brokerFunction(template);

    expect(fn).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 512,
      TracingConfig: { Mode: 'Active' },
    });
    expect(fn.ReservedConcurrentExecutions).toBeUndefined();
    expect(fn.Timeout).toBeLessThan(29);
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('passes a configuration the runtime accepts, naming each secret by ARN, and no secret value', () => {
    const variables = (brokerFunction(template).Environment as { Variables: Record<string, unknown> }).Variables;
    const config = parseBrokerConfigJson(resolveJoin(variables[ENV.brokerConfig]), ENV.brokerConfig);

    expect(variables).toMatchObject({
      [ENV.powertoolsServiceName]: SERVICE_NAME,
      [ENV.powertoolsMetricsNamespace]: METRICS_NAMESPACE,
    });
    expect(config.clients.map((c) => [c.name, c.clientSecret])).toEqual([
      ['shop', { kind: 'secretsManager', secretId: expect.stringMatching(/^arn:aws:secretsmanager:.*Clientshop/) }],
      [
        'billing',
        {
          kind: 'secretsManager',
          secretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/billing',
          field: 'client_secret',
        },
      ],
      ['reports', { kind: 'secretsManager', secretId: REPORTS_SECRET_ARN }],
    ]);
  });

  it('lets the function read exactly the configured secrets, and decrypt only through Secrets Manager', () => {
    const statements = policyStatements(template.findResources('AWS::IAM::Policy'));
    const secretStatements = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('secretsmanager:')));
    const kmsStatements = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('kms:')));

    expect(secretStatements).toHaveLength(1);
    expect(secretStatements[0]?.Action).toBe('secretsmanager:GetSecretValue');
    expect(asArray(secretStatements[0]?.Resource)).toHaveLength(3);
    expect(asArray(secretStatements[0]?.Resource)).toEqual(
      expect.arrayContaining([
        { Ref: expect.stringMatching(/Clientshop/) },
        'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/billing-??????',
        REPORTS_SECRET_ARN,
      ]),
    );
    expect(kmsStatements.filter((s) => s.Resource === REPORTS_KEY_ARN)).toEqual([
      {
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: REPORTS_KEY_ARN,
        Condition: {
          StringEquals: {
            'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.eu-west-1.', { Ref: 'AWS::URLSuffix' }]] },
          },
        },
      },
    ]);
    // The only other key is the fleet cache's, usable for this broker's namespace only (shared-token-cache.test.ts).
    expect(kmsStatements.filter((s) => s.Resource !== REPORTS_KEY_ARN)).toEqual([
      expect.objectContaining({
        Condition: {
          StringEquals: {
            [`kms:EncryptionContext:${CACHE_ENCRYPTION_CONTEXT.namespaceKey}`]: broker.sharedCache?.namespace,
          },
        },
      }),
    ]);
  });

  it('holds no IAM statement with a "*" action, and "*" resources only for X-Ray, which has no ARNs', () => {
    const statements = policyStatements(template.findResources('AWS::IAM::Policy'));

    expect(statements.filter((s) => asArray(s.Action).some((a) => a === '*' || a.endsWith(':*')))).toEqual([]);
    for (const s of statements.filter((s) => asArray(s.Resource).includes('*'))) {
      expect(asArray(s.Action).every((a) => a.startsWith('xray:'))).toBe(true);
    }
  });

  it('creates a placeholder secret only for the client without one, and says how to put the real one', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Description: Match.stringLikeRegexp('client "shop"'),
      GenerateSecretString: Match.objectLike({ PasswordLength: 32 }),
    });
    const outputs = Object.values(template.findOutputs('*')).map((o) => JSON.stringify(o.Value));
    expect(outputs.filter((o) => o.includes('aws secretsmanager put-secret-value --secret-id '))).toHaveLength(1);
  });

  it('warms the instances API Gateway reaches (its alias) every 5 minutes, looking ahead 6 minutes, with bounded retries and a DLQ', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [
        Match.objectLike({
          Arn: { Ref: Match.stringLikeRegexp('BrokerApiAlias') },
          Input: JSON.stringify(warmUpEvent(5 * 60 + 60)),
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 300 },
          DeadLetterConfig: { Arn: Match.anyValue() },
        }),
      ],
    });
    const [invokeConfig] = Object.values(template.findResources('AWS::Lambda::EventInvokeConfig'));
    expect(invokeConfig?.Properties).toMatchObject({ MaximumRetryAttempts: 0 });
    // The alias's qualifier (CloudFormation takes it from the alias ARN), not the unqualified function's.
    expect(JSON.stringify(invokeConfig?.Properties.Qualifier)).toContain('ApiAlias');
  });

  it('alarms on the function, the API, the authorization servers, the fleet cache and the warm-ups, to the topic', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    // The broker's own metrics come from the contract the runtime publishes them by: a renamed
    // metric changes both sides, or this fails.
    const brokerMetric = (name: string) => `${METRICS_NAMESPACE}/${name}`;
    const watched = alarms.map((a) =>
      a.MetricName ? `${a.Namespace}/${a.MetricName}` : (a.Metrics as { Expression?: string }[])[0]?.Expression,
    );

    expect(watched.sort()).toEqual(
      [
        'AWS/ApiGateway/5XXError',
        'AWS/Lambda/Errors',
        'AWS/Lambda/Throttles',
        brokerMetric(METRIC.upstreamFailure),
        brokerMetric(METRIC.sharedCacheFailure),
        brokerMetric(METRIC.warmUpFailure),
        brokerMetric(METRIC.warmUpRun),
        'FILL(sentToDlq, 0) + FILL(notSentToDlq, 0) + FILL(failed, 0)',
      ].sort(),
    );
    expect(alarms.find((a) => a.MetricName === METRIC.upstreamFailure)?.Dimensions).toEqual([
      { Name: 'service', Value: SERVICE_NAME },
    ]);
    for (const alarm of alarms) {
      expect(alarm.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^Alarms/) }]);
      expect(alarm.OKActions).toEqual([{ Ref: expect.stringMatching(/^Alarms/) }]);
    }
  });

  it('outputs the invoke URL', () => {
    const urls = Object.values(template.findOutputs('*')).filter((o) => String(o.Description).includes(ENV.brokerUrl));

    expect(urls).toHaveLength(1);
    expect(urls[0]?.Value).toEqual(stack.resolve(broker.brokerUrl));
    expect(JSON.stringify(urls[0]?.Value)).toMatch(/execute-api/);
  });
});

describe('Construct: TokenBroker (existing VPC endpoint)', () => {
  let template: Template;

  beforeAll(() => {
    const stack = newTestStack();
    new TokenBroker(stack, 'Broker', {
      config: TWO_CLIENTS,
      vpcEndpoints: [importEndpoint(stack)],
      warmUp: false,
    });
    template = Template.fromStack(stack);
  });

  it('allows requests only through the given endpoint and creates none', () => {
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      EndpointConfiguration: { Types: ['PRIVATE'], VpcEndpointIds: [EXISTING_ENDPOINT_ID] },
      Policy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { StringNotEquals: { 'aws:SourceVpce': [EXISTING_ENDPOINT_ID] } },
          }),
        ]),
      },
    });
  });

  it('has no schedule and no warm-up alarm when warm-up is off', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);

    template.resourceCountIs('AWS::Events::Rule', 0);
    expect(alarms.map((a) => a.MetricName)).not.toContain(METRIC.warmUpRun);
    expect(alarms.filter((a) => a.Metrics !== undefined)).toEqual([]);
    expect(alarms).toHaveLength(5);
  });

  it('takes the warm-up interval from props, and looks ahead that interval plus 60 s', () => {
    const stack = newTestStack();
    new TokenBroker(stack, 'Broker', {
      config: TWO_CLIENTS,
      vpcEndpoints: [importEndpoint(stack)],
      warmUpInterval: Duration.minutes(1),
    });

    Template.fromStack(stack).hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [
        Match.objectLike({
          Input: JSON.stringify(warmUpEvent(60 + 60)),
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 60 },
        }),
      ],
    });
  });
});
