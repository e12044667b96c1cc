import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { TokenBroker } from '../../lib/token-broker.ts';
import { importEndpoint, NO_BUNDLING, TEST_CONTEXT, TWO_CLIENTS } from './synth.ts';

/** The construct alone, default props, in a new app: what a platform team gets in a fresh account. */
function constructAlone(context: Record<string, unknown>): Template {
  const stack = new Stack(new App({ context }), 'Fresh');
  new TokenBroker(stack, 'Broker', { config: TWO_CLIENTS, vpcEndpoints: [importEndpoint(stack)] });
  return Template.fromStack(stack);
}

describe.each([
  ['without feature flags', NO_BUNDLING],
  ["with cdk.json's feature flags", TEST_CONTEXT],
])('Construct: TokenBroker alone, default props, in a new app (%s)', (_, context) => {
  const template = constructAlone(context);
  const stageId = () => Object.keys(template.findResources('AWS::ApiGateway::Stage'))[0] as string;

  it("sets API Gateway's CloudWatch Logs role for the account, and keeps both when the stack is deleted", () => {
    const [roleId] = Object.keys(
      template.findResources('AWS::IAM::Role', {
        Properties: {
          AssumeRolePolicyDocument: {
            Statement: [Match.objectLike({ Principal: { Service: 'apigateway.amazonaws.com' } })],
          },
        },
      }),
    );

    expect(roleId).toBeDefined();
    template.hasResource('AWS::IAM::Role', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        ManagedPolicyArns: [
          {
            'Fn::Join': ['', Match.arrayWith([':iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs'])],
          },
        ],
      }),
    });
    template.hasResource('AWS::ApiGateway::Account', {
      DeletionPolicy: 'Retain',
      Properties: { CloudWatchRoleArn: { 'Fn::GetAtt': [roleId, 'Arn'] } },
    });
  });

  it('creates the stage only after the account has the role and the execution log group exists', () => {
    const [accountId] = Object.keys(template.findResources('AWS::ApiGateway::Account'));
    const [executionLogsId] = Object.keys(
      template.findResources('AWS::Logs::LogGroup', {
        Properties: { LogGroupName: Match.objectLike({ 'Fn::Join': Match.anyValue() }) },
      }),
    );
    const dependsOn = template.toJSON().Resources[stageId()].DependsOn as string[];

    expect(dependsOn).toEqual(expect.arrayContaining([accountId, executionLogsId]));
  });

  it('logs executions (errors, no bodies) and access, each to a log group with a retention', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: [Match.objectLike({ LoggingLevel: 'ERROR', DataTraceEnabled: false })],
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.anyValue() },
    });
    expect(JSON.stringify(template.toJSON().Resources[stageId()].Properties.AccessLogSetting.DestinationArn)).toMatch(
      /"BrokerApiAccessLogs[0-9A-F]{8}"/,
    );
    template.hasResource('AWS::Logs::LogGroup', {
      DeletionPolicy: 'Delete',
      Properties: {
        LogGroupName: {
          'Fn::Join': ['', ['API-Gateway-Execution-Logs_', { Ref: Match.stringLikeRegexp('^BrokerApi') }, '/v1']],
        },
        RetentionInDays: 30,
      },
    });
    for (const group of Object.values(template.findResources('AWS::Logs::LogGroup'))) {
      expect(group.Properties.RetentionInDays).toBe(30);
    }
  });
});

describe('Construct: TokenBroker with apiGatewayCloudWatchRole: false', () => {
  it("leaves the account's logging role alone, for accounts that already have one", () => {
    const stack = new Stack(new App({ context: TEST_CONTEXT }), 'Existing');
    new TokenBroker(stack, 'Broker', {
      config: TWO_CLIENTS,
      vpcEndpoints: [importEndpoint(stack)],
      apiGatewayCloudWatchRole: false,
    });
    const template = Template.fromStack(stack);

    template.resourceCountIs('AWS::ApiGateway::Account', 0);
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: [Match.objectLike({ LoggingLevel: 'ERROR' })],
    });
  });
});
