import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { METRIC } from '../lambda/shared/contract.ts';
import { type BrokerMetricSource, METRIC_PERIOD } from './broker-metrics.ts';
import type { WarmUpSchedule } from './warm-up-schedule.ts';

export interface BrokerAlarmsProps {
  readonly function: lambda.IFunction;
  /** The broker's own metrics (its service). */
  readonly metrics: BrokerMetricSource;
  readonly stage: { metricServerError(props?: cloudwatch.MetricOptions): cloudwatch.Metric };
  /** The warm-up schedule, when it is on: its undelivered events, failures and heartbeat. */
  readonly warmUp?: WarmUpSchedule;
  /** Whether the fleet cache is on (its failures then have an alarm). */
  readonly sharedCache: boolean;
  readonly topic?: sns.ITopic;
}

/** Warm-ups missed in a row before the heartbeat alarm fires: one late event is no outage. */
const MISSED_WARM_UPS = 2;

/**
 * One alarm per way the broker can let its callers down. Each fires on the first occurrence in
 * five minutes: a token broker failing at all means some workload cannot call its API. The
 * heartbeat alarm fires the other way round: when warm-ups stop arriving.
 */
export class BrokerAlarms extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: BrokerAlarmsProps) {
    super(scope, id);
    const { metrics } = props;
    const fn = props.function;
    this.add('FunctionErrors', 'The token broker function failed', fn.metricErrors({ period: METRIC_PERIOD }));
    this.add(
      'FunctionThrottles',
      'The token broker function was throttled (reserved concurrency reached)',
      fn.metricThrottles({ period: METRIC_PERIOD }),
    );
    this.add(
      'Api5xx',
      'The token broker API answered with 5xx',
      props.stage.metricServerError({ period: METRIC_PERIOD, statistic: cloudwatch.Stats.SUM }),
    );
    this.add(
      'UpstreamFailures',
      'Token requests to an authorization server failed after retries',
      metrics.metric(METRIC.upstreamFailure),
    );
    if (props.sharedCache) {
      this.add(
        'SharedCacheFailures',
        "The fleet token cache's table or key failed (throttled, denied, unreachable); instances fell back to " +
          'memory and the authorization servers directly',
        metrics.metric(METRIC.sharedCacheFailure),
      );
    }
    if (props.warmUp) this.addWarmUpAlarms(props.warmUp, metrics);
    if (props.topic) {
      const action = new actions.SnsAction(props.topic);
      for (const alarm of this.alarms) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
  }

  private addWarmUpAlarms(warmUp: WarmUpSchedule, metrics: BrokerMetricSource): void {
    this.add(
      'WarmUpNotDelivered',
      'EventBridge could not deliver warm-up events to the broker: they went to the dead-letter queue ' +
        '(see its messages for the cause) or could not even be sent there',
      warmUp.metricUndelivered(),
    );
    this.add(
      'WarmUpFailures',
      'A warm-up could not refresh some tokens (authorization server, Secrets Manager or the fleet cache); ' +
        'see the "Warm-up done" log line',
      metrics.metric(METRIC.warmUpFailure),
    );
    const period = heartbeatPeriod(warmUp.interval);
    this.alarms.push(
      new cloudwatch.Alarm(this, 'WarmUpMissing', {
        metric: metrics.metric(METRIC.warmUpRun, { period }),
        alarmDescription:
          `No warm-up completed in ${MISSED_WARM_UPS} periods of ${period.toHumanString()}: the schedule is off, ` +
          'or the broker fails before it reports (see FunctionErrors)',
        threshold: 1,
        evaluationPeriods: MISSED_WARM_UPS,
        datapointsToAlarm: MISSED_WARM_UPS,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
    );
  }

  private add(id: string, description: string, metric: cloudwatch.IMetric): void {
    this.alarms.push(
      new cloudwatch.Alarm(this, id, {
        metric,
        alarmDescription: description,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }
}

/**
 * One warm-up interval, at least {@link METRIC_PERIOD} (a rate of one a minute may skip a
 * minute now and then). An interval that is still a token gets the longest one allowed.
 */
function heartbeatPeriod(interval: Duration): Duration {
  if (interval.isUnresolved()) return Duration.minutes(59);
  return Duration.seconds(Math.max(interval.toSeconds(), METRIC_PERIOD.toSeconds()));
}
