import { CfnParameter, Duration, Token } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { WARM_UP_LOOK_AHEAD, warmUpEvent } from '../../lambda/shared/contract.ts';
import { WarmUpSchedule, warmUpLookAheadSeconds } from '../../lib/warm-up-schedule.ts';
import { newTestStack } from './synth.ts';

function scheduleEvery(interval: Duration): Template {
  const stack = newTestStack();
  const handler = new lambda.Function(stack, 'Handler', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('export const handler = async () => {};'),
  });
  new WarmUpSchedule(stack, 'WarmUp', { handler, interval });
  return Template.fromStack(stack);
}

describe('Construct: WarmUpSchedule', () => {
  it('sends the warm-up event looking ahead one interval plus 60 s', () => {
    const template = scheduleEvery(Duration.minutes(10));

    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(10 minutes)',
      Targets: [Match.objectLike({ Input: JSON.stringify(warmUpEvent(10 * 60 + 60)) })],
    });
  });

  it('refuses an interval whose look-ahead the broker would reject, naming warmUpInterval', () => {
    expect(() => scheduleEvery(Duration.minutes(60))).toThrow(/^warmUpInterval must be at most 59 minutes/);
  });
});

describe('Function: warmUpLookAheadSeconds', () => {
  it("accepts every whole-minute interval whose look-ahead is within the broker's bound, and no longer one", () => {
    const longest = Math.floor((WARM_UP_LOOK_AHEAD.maxSeconds - 60) / 60);

    expect(warmUpLookAheadSeconds(Duration.minutes(longest))).toBe(longest * 60 + 60);
    expect(() => warmUpLookAheadSeconds(Duration.minutes(longest + 1))).toThrow(
      `warmUpInterval must be at most ${longest} minutes`,
    );
  });

  it("leaves an interval that is still a token to the broker's default", () => {
    const minutes = Token.asNumber(new CfnParameter(newTestStack(), 'Minutes', { type: 'Number' }));

    expect(warmUpLookAheadSeconds(Duration.minutes(minutes))).toBeUndefined();
  });
});
