import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

export interface BrokerAlarmsProps {
  readonly function: lambda.IFunction;
  readonly stage: { metricServerError(props?: cloudwatch.MetricOptions): cloudwatch.Metric };
  /** `UpstreamFailure` as published by the broker (EMF): token requests that failed after retries. */
  readonly upstreamFailures: cloudwatch.IMetric;
  /** Warm-up events that could not be delivered, when the schedule is on. */
  readonly warmUpFailures?: cloudwatch.IMetric;
  readonly topic?: sns.ITopic;
}

const PERIOD = Duration.minutes(5);

/**
 * One alarm per way the broker can let its callers down. Each fires on the first occurrence in
 * five minutes: a token broker failing at all means some workload cannot call its API.
 */
export class BrokerAlarms extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: BrokerAlarmsProps) {
    super(scope, id);
    const fn = props.function;
    this.add('FunctionErrors', 'The token broker function failed', fn.metricErrors({ period: PERIOD }));
    this.add(
      'FunctionThrottles',
      'The token broker function was throttled (reserved concurrency reached)',
      fn.metricThrottles({ period: PERIOD }),
    );
    this.add(
      'Api5xx',
      'The token broker API answered with 5xx',
      props.stage.metricServerError({ period: PERIOD, statistic: cloudwatch.Stats.SUM }),
    );
    this.add(
      'UpstreamFailures',
      'Token requests to an authorization server failed after retries',
      props.upstreamFailures,
    );
    if (props.warmUpFailures) {
      this.add('WarmUpFailures', 'The warm-up schedule could not invoke the broker', props.warmUpFailures);
    }
    if (props.topic) {
      const action = new actions.SnsAction(props.topic);
      for (const alarm of this.alarms) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
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
