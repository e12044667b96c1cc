import { Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { WARM_UP_LOOK_AHEAD, warmUpEvent } from '../lambda/shared/contract.ts';

/**
 * How far past the next warm-up a warm-up looks: a scheduled event may arrive late, and a token
 * refreshed a little early is better than one a caller waits for.
 */
const WARM_UP_LOOK_AHEAD_MARGIN = Duration.seconds(60);

/**
 * The look-ahead of a warm-up every `interval`: the interval plus {@link WARM_UP_LOOK_AHEAD_MARGIN},
 * or `undefined` (the broker's default) for an interval that is still a token.
 * @throws when it exceeds the broker's bound, naming `warmUpInterval`
 */
export function warmUpLookAheadSeconds(interval: Duration): number | undefined {
  if (interval.isUnresolved()) return undefined;
  const seconds = interval.toSeconds() + WARM_UP_LOOK_AHEAD_MARGIN.toSeconds();
  if (seconds > WARM_UP_LOOK_AHEAD.maxSeconds) {
    const maxMinutes = Math.floor((WARM_UP_LOOK_AHEAD.maxSeconds - WARM_UP_LOOK_AHEAD_MARGIN.toSeconds()) / 60);
    throw new Error(
      `warmUpInterval must be at most ${maxMinutes} minutes (got ${interval.toHumanString()}): a warm-up looks ` +
        `ahead one interval plus ${WARM_UP_LOOK_AHEAD_MARGIN.toSeconds()} s, and the broker accepts at most ` +
        `${WARM_UP_LOOK_AHEAD.maxSeconds} s`,
    );
  }
  return seconds;
}

export interface WarmUpScheduleProps {
  readonly handler: lambda.IFunction;
  /** At most 59 minutes; see {@link warmUpLookAheadSeconds}. */
  readonly interval: Duration;
}

/**
 * Invokes the broker on a schedule so a container stays warm and refreshes, ahead of time, the
 * tokens that come due before the next warm-up (`lookAheadSeconds`). A missed
 * warm-up is worth little after the next one is due, so retries stop early; events that still
 * fail land in a dead-letter queue (`InvocationsSentToDlq`, see {@link metricUndelivered}).
 */
export class WarmUpSchedule extends Construct {
  readonly rule: events.Rule;
  readonly deadLetterQueue: sqs.Queue;
  readonly interval: Duration;

  constructor(scope: Construct, id: string, props: WarmUpScheduleProps) {
    super(scope, id);
    this.interval = props.interval;
    const lookAheadSeconds = warmUpLookAheadSeconds(props.interval);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the warm-up schedule target.',
    });
    this.rule = new events.Rule(this, 'Rule', {
      description: 'Keeps the token broker warm',
      schedule: events.Schedule.rate(props.interval),
    });
    this.rule.addTarget(
      new targets.LambdaFunction(props.handler, {
        event: events.RuleTargetInput.fromObject(warmUpEvent(lookAheadSeconds)),
        retryAttempts: 2,
        maxEventAge: Duration.minutes(Math.min(5, props.interval.toMinutes())),
        deadLetterQueue: this.deadLetterQueue,
      }),
    );
  }

  /**
   * Warm-up events EventBridge did not deliver after its retries: sent to the dead-letter queue
   * (`InvocationsSentToDlq`), lost on the way there (`InvocationsFailedToBeSentToDlq`), or failed
   * for good (`FailedInvocations`, which does not count events a dead-letter queue took).
   * EventBridge publishes each only when it is not zero, hence `FILL`.
   */
  metricUndelivered(): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: 'FILL(sentToDlq, 0) + FILL(notSentToDlq, 0) + FILL(failed, 0)',
      usingMetrics: {
        sentToDlq: this.ruleMetric('InvocationsSentToDlq'),
        notSentToDlq: this.ruleMetric('InvocationsFailedToBeSentToDlq'),
        failed: this.ruleMetric('FailedInvocations'),
      },
      label: 'Warm-up events not delivered',
      period: Duration.minutes(5),
    });
  }

  private ruleMetric(metricName: string): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/Events',
      metricName,
      dimensionsMap: { RuleName: this.rule.ruleName },
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(5),
    });
  }
}
