import { CfnOutput, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { nodejsFunctionDefaults } from './bundling.ts';
import type { TokenBroker } from './token-broker.ts';

export interface ExampleConsumerProps {
  readonly broker: TokenBroker;
  /** The one client whose tokens this function may get. */
  readonly clientName: string;
  /** The VPC with the broker's `execute-api` endpoint; the function runs in its private subnets. */
  readonly vpc: ec2.IVpc;
}

/**
 * A function that gets a token from the broker (`lambda/consumer/handler.ts`): what a team's own
 * function does, with the least it needs: one client's token, and HTTPS to the endpoint only.
 */
export class ExampleConsumer extends Construct {
  readonly function: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props: ExampleConsumerProps) {
    super(scope, id);
    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Token broker example consumer: HTTPS to the execute-api endpoint only',
      allowAllOutbound: false,
    });
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      ...nodejsFunctionDefaults('lambda/consumer/handler.ts'),
      description: 'Example consumer of the token broker',
      memorySize: 256,
      timeout: Duration.seconds(30),
      // The VPC's private subnets: isolated ones, or those behind the NAT gateway.
      vpc: props.vpc,
      securityGroups: [securityGroup],
      logGroup: new logs.LogGroup(this, 'Logs', {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
      environment: { TOKEN_BROKER_CLIENT: props.clientName },
    });
    props.broker.configureConsumer(this.function, props.clientName);
    if (props.broker.vpcEndpoint) {
      securityGroup.connections.allowTo(props.broker.vpcEndpoint, ec2.Port.tcp(443), 'HTTPS to the broker API');
    }
    new CfnOutput(this, 'FunctionName', {
      description: 'Example consumer: `aws lambda invoke --function-name <this> out.json` gets a token from the broker',
      value: this.function.functionName,
    });
    this.acknowledgeFindings();
  }

  private acknowledgeFindings(): void {
    const role = this.function.role;
    if (!role) return;
    const reason =
      'Example consumer: the AWS managed Lambda execution policies keep the example short; ' +
      'the ENI actions a VPC function needs support no resource ARN, so a custom policy would not be narrower.';
    Validations.of(role).acknowledge(
      {
        id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason,
      },
      {
        id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        reason,
      },
    );
  }
}
