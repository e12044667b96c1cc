import { Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { warmUpEvent } from '../lambda/shared/contract.ts';

export interface WarmUpScheduleProps {
  readonly handler: lambda.IFunction;
  readonly interval: Duration;
}

/**
 * Invokes the broker on a schedule so a container stays warm and keeps its token cache. A missed
 * warm-up is worth little after the next one is due, so retries stop early; events that still
 * fail land in a dead-letter queue and count in `FailedInvocations`, which an alarm watches.
 */
export class WarmUpSchedule extends Construct {
  readonly rule: events.Rule;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: WarmUpScheduleProps) {
    super(scope, id);
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
        event: events.RuleTargetInput.fromObject(warmUpEvent()),
        retryAttempts: 2,
        maxEventAge: Duration.minutes(Math.min(5, props.interval.toMinutes())),
        deadLetterQueue: this.deadLetterQueue,
      }),
    );
  }

  /** Warm-up events EventBridge could not deliver after its retries. */
  metricFailedInvocations(): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/Events',
      metricName: 'FailedInvocations',
      dimensionsMap: { RuleName: this.rule.ruleName },
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(5),
    });
  }
}
