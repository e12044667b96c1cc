import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { API_ALIAS, ENV } from '../../lambda/shared/contract.ts';
import { TokenBroker } from '../../lib/token-broker.ts';
import { importEndpoint, newTestStack, policyStatements, TWO_CLIENTS } from './synth.ts';

function setUp() {
  const stack = newTestStack();
  const broker = new TokenBroker(stack, 'Broker', { config: TWO_CLIENTS, vpcEndpoints: [importEndpoint(stack)] });
  const role = new iam.Role(stack, 'Caller', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  return { stack, broker, role };
}

/** The statements attached to the caller role's default policy. */
function callerStatements(template: Template) {
  return policyStatements(
    template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^Caller') }] } }),
  );
}

describe('Method: TokenBroker.grantTokenAccess', () => {
  it("allows execute-api:Invoke on exactly that client's method ARN", () => {
    // Prepare
    const { stack, broker, role } = setUp();

    // Act
    const grant = broker.grantTokenAccess(role, 'billing');

    // Assess
    expect(grant.success).toBe(true);
    const statements = callerStatements(Template.fromStack(stack));
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatchObject({ Effect: 'Allow', Action: 'execute-api:Invoke' });
    expect(statements[0]?.Resource).toEqual({
      'Fn::Join': [
        '',
        [
          'arn:aws:execute-api:eu-west-1:123456789012:',
          { Ref: expect.stringMatching(/^BrokerApi/) },
          '/',
          { Ref: expect.stringMatching(/^BrokerApiDeploymentStagev1/) },
          '/GET/clients/billing/token',
        ],
      ],
    });
  });

  it('fails at synth time for a client that is not configured, naming the known ones', () => {
    const { broker, role } = setUp();

    expect(() => broker.grantTokenAccess(role, 'billling')).toThrow(
      'grantTokenAccess: clientName "billling" is not a configured client (known: shop, billing)',
    );
  });
});

describe('Method: TokenBroker.grantDirectInvoke', () => {
  it('allows lambda:InvokeFunction on the unqualified broker function only, not on the API alias', () => {
    const { stack, broker, role } = setUp();

    broker.grantDirectInvoke(role);

    const statements = callerStatements(Template.fromStack(stack));
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatchObject({
      Effect: 'Allow',
      Action: 'lambda:InvokeFunction',
      Resource: stack.resolve(broker.function.functionArn),
    });
  });

  it('lets only API Gateway and the warm-up schedule invoke the API alias, whose events alone carry a trusted identity', () => {
    const { stack } = setUp();

    const template = Template.fromStack(stack);

    template.hasResourceProperties('AWS::Lambda::Alias', { Name: API_ALIAS });
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission'));
    const onAlias = permissions.filter((p) => JSON.stringify(p.Properties.FunctionName).includes('ApiAlias'));
    expect(new Set(onAlias.map((p) => p.Properties.Principal))).toEqual(
      new Set(['apigateway.amazonaws.com', 'events.amazonaws.com']),
    );
    // Each one scoped to its source: this stack's API, this stack's warm-up rule.
    expect(onAlias.every((p) => p.Properties.SourceArn !== undefined)).toBe(true);
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      Integration: { Uri: { 'Fn::Join': ['', Match.arrayWith([{ Ref: Match.stringLikeRegexp('ApiAlias') }])] } },
    });
  });
});

describe('Method: TokenBroker.configureConsumer', () => {
  it('sets TOKEN_BROKER_URL on the function and grants it one client', () => {
    const { stack, broker } = setUp();
    const consumer = new lambda.Function(stack, 'Consumer', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('export const handler = async () => {};'),
    });

    broker.configureConsumer(consumer, 'shop');

    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { [ENV.brokerUrl]: stack.resolve(broker.brokerUrl) } },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^ConsumerServiceRole') }],
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Action: 'execute-api:Invoke',
            Resource: { 'Fn::Join': ['', Match.arrayWith(['/GET/clients/shop/token'])] },
          }),
        ],
      },
    });
  });
});
