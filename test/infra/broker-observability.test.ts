import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  METRIC,
  METRIC_DIMENSION,
  METRICS_NAMESPACE,
  SERVICE_NAME,
  TOKEN_SOURCE_METRIC,
} from '../../lambda/shared/contract.ts';
import { BROKER_ERRORS } from '../../lambda/shared/error-codes.ts';
import { auditQueryString } from '../../lib/audit-query.ts';
import { TokenBroker } from '../../lib/token-broker.ts';
import type { TokenBrokerProps } from '../../lib/token-broker-props.ts';
import { importEndpoint, newTestStack, TWO_CLIENTS } from './synth.ts';

function build(props: Partial<TokenBrokerProps> = {}): Template {
  const stack = newTestStack();
  new TokenBroker(stack, 'Broker', { config: TWO_CLIENTS, vpcEndpoints: [importEndpoint(stack)], ...props });
  return Template.fromStack(stack);
}

function alarm(template: Template, id: RegExp): Record<string, unknown> {
  const found = Object.entries(template.findResources('AWS::CloudWatch::Alarm')).filter(([logicalId]) =>
    id.test(logicalId),
  );
  if (found.length !== 1) throw new Error(`${found.length} alarms match ${id}`);
  return found[0]?.[1].Properties as Record<string, unknown>;
}

const brokerDimensions = [{ Name: METRIC_DIMENSION.service, Value: SERVICE_NAME }];

describe('Construct: BrokerAlarms (warm-up and fleet cache)', () => {
  let template: Template;

  beforeAll(() => {
    template = build();
  });

  it('alarms on warm-up events EventBridge sent to the dead-letter queue, lost on the way, or failed', () => {
    const undelivered = alarm(template, /WarmUpNotDelivered/);
    const metrics = undelivered.Metrics as { Id: string; Expression?: string; MetricStat?: { Metric: unknown } }[];

    expect(metrics.find((m) => m.Expression)?.Expression).toBe(
      'FILL(sentToDlq, 0) + FILL(notSentToDlq, 0) + FILL(failed, 0)',
    );
    expect(metrics.filter((m) => m.MetricStat).map((m) => m.MetricStat?.Metric)).toEqual(
      ['InvocationsSentToDlq', 'InvocationsFailedToBeSentToDlq', 'FailedInvocations'].map((name) => ({
        Namespace: 'AWS/Events',
        MetricName: name,
        Dimensions: [{ Name: 'RuleName', Value: { Ref: expect.stringMatching(/^BrokerWarmUpRule/) } }],
      })),
    );
    expect(undelivered).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
  });

  it('fires the heartbeat alarm when no warm-up completed in two intervals, missing data counting as none', () => {
    expect(alarm(template, /WarmUpMissing/)).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      MetricName: METRIC.warmUpRun,
      Dimensions: brokerDimensions,
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
  });

  it.each([
    [/WarmUpFailures/, METRIC.warmUpFailure],
    [/SharedCacheFailures/, METRIC.sharedCacheFailure],
  ])('alarms on the first %s the broker reports (%s)', (id, metricName) => {
    expect(alarm(template, id)).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      MetricName: metricName,
      Dimensions: brokerDimensions,
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  it('stretches the heartbeat period to the warm-up interval', () => {
    expect(alarm(build({ warmUpInterval: Duration.minutes(15) }), /WarmUpMissing/)).toMatchObject({ Period: 900 });
  });

  it('has no fleet cache alarm without the fleet cache', () => {
    const alarms = Object.values(build({ sharedCache: false }).findResources('AWS::CloudWatch::Alarm'));

    expect(alarms.map((a) => a.Properties.MetricName)).not.toContain(METRIC.sharedCacheFailure);
  });
});

describe('Construct: BrokerDashboard', () => {
  let body: string;

  beforeAll(() => {
    const [dashboard] = Object.values(build().findResources('AWS::CloudWatch::Dashboard'));
    body = JSON.stringify(dashboard?.Properties.DashboardBody);
  });

  /** A metric of the broker's namespace in a graph: `[namespace, name, dimension, value, ...]`, dimensions sorted. */
  const graphed = (metricName: string, dimensions: Record<string, string> = {}) =>
    JSON.stringify([
      METRICS_NAMESPACE,
      metricName,
      ...Object.entries({ [METRIC_DIMENSION.service]: SERVICE_NAME, ...dimensions })
        .sort(([a], [b]) => a.localeCompare(b))
        .flat(),
    ])
      .slice(1, -1)
      .replaceAll('"', '\\"');

  it('graphs requests, and refusals by error code', () => {
    expect(body).toContain(graphed(METRIC.tokenRemainingLifetime));
    expect(body).toContain('\\"stat\\":\\"SampleCount\\"');
    for (const code of Object.keys(BROKER_ERRORS)) {
      expect(body).toContain(graphed(METRIC.requestFailed, { [METRIC_DIMENSION.error]: code }));
    }
  });

  it('graphs where tokens came from and the lifetime they had left', () => {
    for (const name of Object.values(TOKEN_SOURCE_METRIC)) expect(body).toContain(graphed(name));
    expect(body).toContain(graphed(METRIC.tokenRemainingLifetime));
  });

  it('graphs token requests and latency per authorization server, found by a search', () => {
    expect(body).toContain(
      `SEARCH('{${METRICS_NAMESPACE},${METRIC_DIMENSION.service},${METRIC_DIMENSION.authorizationServer},${METRIC_DIMENSION.outcome}} MetricName=\\\\\\"${METRIC.tokenEndpointLatency}\\\\\\"`,
    );
  });

  it('graphs warm-up outcomes', () => {
    for (const name of [METRIC.warmUpRun, METRIC.warmUpRefreshed, METRIC.warmUpFailure, METRIC.warmUpDeferred]) {
      expect(body).toContain(graphed(name));
    }
  });

  it('is left out with dashboard: false', () => {
    build({ dashboard: false }).resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  });
});

describe('Construct: TokenBroker audit query', () => {
  it("saves the Logs Insights query over the broker's audit lines for its log group", () => {
    build().hasResourceProperties('AWS::Logs::QueryDefinition', {
      Name: 'Test/Broker/roles-that-obtained-tokens',
      QueryString: auditQueryString().toString(),
      LogGroupNames: [{ Ref: Match.stringLikeRegexp('^BrokerLogs') }],
    });
  });
});

describe('Construct: TokenBroker serviceName', () => {
  it('names the service in the function, and every broker metric its alarms and dashboard watch', () => {
    // Act
    const template = build({ serviceName: 'orders-broker' });

    // Assess
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'orders-broker' }) },
    });
    const brokerAlarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'))
      .map((resource) => resource.Properties as { Namespace?: string; Dimensions?: unknown })
      .filter((properties) => properties.Namespace === METRICS_NAMESPACE);
    expect(brokerAlarms.length).toBeGreaterThanOrEqual(3);
    for (const properties of brokerAlarms) {
      expect(properties.Dimensions).toEqual([{ Name: METRIC_DIMENSION.service, Value: 'orders-broker' }]);
    }
    const body = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]);
    // Graphs name the dimension as ["service","orders-broker"], searches as service="orders-broker".
    expect(body).toMatch(/\\+"service\\+",\\+"orders-broker\\+"/);
    expect(body).toMatch(/service=\\+"orders-broker\\+"/);
    expect(body).not.toContain(SERVICE_NAME);
  });
});
