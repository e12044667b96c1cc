import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { METRIC, METRIC_DIMENSION, TOKEN_ENDPOINT_OUTCOME, TOKEN_SOURCE_METRIC } from '../lambda/shared/contract.ts';
import { BROKER_ERRORS, type BrokerErrorCode } from '../lambda/shared/error-codes.ts';
import { type BrokerMetricSource, METRIC_PERIOD } from './broker-metrics.ts';
import type { WarmUpSchedule } from './warm-up-schedule.ts';

export interface BrokerDashboardProps {
  readonly function: lambda.IFunction;
  /** The broker's own metrics (its service). */
  readonly metrics: BrokerMetricSource;
  readonly stage: apigateway.Stage;
  readonly alarms: readonly cloudwatch.IAlarm[];
  readonly warmUp?: WarmUpSchedule;
  readonly sharedCache: boolean;
}

const WIDTH = 12;
const HEIGHT = 6;

/**
 * The broker on one page: alarms, requests and refusals by error code, where tokens came from and
 * how much life they had left, each authorization server's token requests and latency,
 * warm-ups, the fleet cache, the function and the API.
 */
export class BrokerDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: BrokerDashboardProps) {
    super(scope, id);
    const { metrics } = props;
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard');
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...props.alarms], width: 2 * WIDTH, height: 3 }),
    );
    this.dashboard.addWidgets(
      graph('Token requests', [
        metrics.metric(METRIC.tokenRemainingLifetime, { statistic: cloudwatch.Stats.SAMPLE_COUNT, label: 'served' }),
        metrics.metric(METRIC.requestFailed, { label: 'refused' }),
      ]),
      graph(
        'Refused requests by error code',
        (Object.keys(BROKER_ERRORS) as BrokerErrorCode[]).map((code) =>
          metrics.metric(METRIC.requestFailed, { dimensions: { [METRIC_DIMENSION.error]: code }, label: code }),
        ),
      ),
    );
    this.dashboard.addWidgets(
      graph(
        'Where served tokens came from',
        Object.entries(TOKEN_SOURCE_METRIC).map(([source, name]) => metrics.metric(name, { label: source })),
      ),
      graph('Remaining lifetime of served tokens (seconds)', [
        metrics.metric(METRIC.tokenRemainingLifetime, { statistic: cloudwatch.Stats.MINIMUM, label: 'minimum' }),
        metrics.metric(METRIC.tokenRemainingLifetime, { statistic: cloudwatch.Stats.percentile(10), label: 'p10' }),
        metrics.metric(METRIC.tokenRemainingLifetime, { statistic: cloudwatch.Stats.AVERAGE, label: 'average' }),
      ]),
    );
    const perServer = [METRIC_DIMENSION.authorizationServer, METRIC_DIMENSION.outcome];
    this.dashboard.addWidgets(
      graph('Token requests to each authorization server (after retries)', [
        metrics.search(METRIC.tokenEndpointLatency, perServer, 'SampleCount'),
      ]),
      graph('Token endpoint latency, successful requests (ms)', [
        metrics.search(METRIC.tokenEndpointLatency, perServer, 'p90', {
          [METRIC_DIMENSION.outcome]: TOKEN_ENDPOINT_OUTCOME.ok,
        }),
      ]),
    );
    this.dashboard.addWidgets(
      graph('Warm-ups', [
        metrics.metric(METRIC.warmUpRun, { label: 'runs' }),
        metrics.metric(METRIC.warmUpRefreshed, { label: 'keys refreshed' }),
        metrics.metric(METRIC.warmUpFresh, { label: 'keys still fresh' }),
        metrics.metric(METRIC.warmUpFailure, { label: 'keys failed' }),
        metrics.metric(METRIC.warmUpDeferred, { label: 'keys deferred' }),
        ...(props.warmUp ? [props.warmUp.metricUndelivered()] : []),
      ]),
      graph('Authorization servers and the fleet cache', [
        metrics.metric(METRIC.upstreamFailure, { label: 'token requests failed after retries' }),
        metrics.metric(METRIC.staleTokenServed, { label: 'stale tokens served (refresh failed)' }),
        ...(props.sharedCache
          ? [
              metrics.metric(METRIC.sharedCacheFailure, { label: 'fleet cache failures' }),
              metrics.metric(METRIC.sharedCacheOversized, { label: 'tokens too large for the fleet cache' }),
            ]
          : []),
      ]),
    );
    const fn = props.function;
    const stage = props.stage;
    this.dashboard.addWidgets(
      graph('Broker function', [
        fn.metricInvocations({ period: METRIC_PERIOD }),
        fn.metricErrors({ period: METRIC_PERIOD }),
        fn.metricThrottles({ period: METRIC_PERIOD }),
        fn.metricDuration({ period: METRIC_PERIOD, statistic: cloudwatch.Stats.percentile(90) }),
      ]),
      graph('API', [
        stage.metricCount({ period: METRIC_PERIOD, statistic: cloudwatch.Stats.SUM }),
        stage.metricClientError({ period: METRIC_PERIOD, statistic: cloudwatch.Stats.SUM }),
        stage.metricServerError({ period: METRIC_PERIOD, statistic: cloudwatch.Stats.SUM }),
        stage.metricLatency({ period: METRIC_PERIOD, statistic: cloudwatch.Stats.percentile(90) }),
      ]),
    );
  }
}

function graph(title: string, left: cloudwatch.IMetric[]): cloudwatch.GraphWidget {
  return new cloudwatch.GraphWidget({ title, left, width: WIDTH, height: HEIGHT });
}
