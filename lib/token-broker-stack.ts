import { RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { BrokerConfigInput } from './broker-config-input.ts';
import { ExampleConsumer } from './example-consumer.ts';
import { TokenBroker } from './token-broker.ts';

export interface TokenBrokerStackProps extends StackProps {
  /** The clients, in the runtime's configuration schema (see `TokenBrokerProps.config`). */
  readonly config: BrokerConfigInput;
  /**
   * An existing `execute-api` interface endpoint through which callers reach the API.
   * @default - a new VPC with isolated subnets (no NAT) and an `execute-api` endpoint
   */
  readonly vpcEndpointId?: string;
  /**
   * Deploy the example consumer function in the new VPC, with access to the first client's token.
   * It needs the VPC this stack creates, so it cannot be combined with `vpcEndpointId`.
   * @default true without `vpcEndpointId`, false with it
   */
  readonly exampleConsumer?: boolean;
  /** See `TokenBrokerProps.apiGatewayCloudWatchRole`. @default true */
  readonly apiGatewayCloudWatchRole?: boolean;
  /** See `TokenBrokerProps.reservedConcurrency`. @default no reservation */
  readonly reservedConcurrency?: number;
  /**
   * The fleet token cache (a new DynamoDB table and KMS key); `false` for memory only. See
   * `TokenBrokerProps.sharedCache`.
   * @default true
   */
  readonly sharedCache?: boolean;
}

/** The stack a platform team deploys as is: the broker, its network and an example consumer. */
export class TokenBrokerStack extends Stack {
  readonly broker: TokenBroker;
  /** The VPC the stack created; `undefined` with `vpcEndpointId`. */
  readonly vpc?: ec2.Vpc;
  readonly consumer?: ExampleConsumer;

  constructor(scope: Construct, id: string, props: TokenBrokerStackProps) {
    super(scope, id, props);
    const exampleConsumer = props.exampleConsumer ?? props.vpcEndpointId === undefined;
    if (exampleConsumer && props.vpcEndpointId !== undefined) {
      throw new Error('exampleConsumer needs the VPC this stack creates; it cannot be used with vpcEndpointId');
    }
    const common = {
      config: props.config,
      apiGatewayCloudWatchRole: props.apiGatewayCloudWatchRole ?? true,
      reservedConcurrency: props.reservedConcurrency,
      sharedCache: props.sharedCache ?? true,
    };
    if (props.vpcEndpointId !== undefined) {
      const endpoint = ec2.InterfaceVpcEndpoint.fromInterfaceVpcEndpointAttributes(this, 'ExecuteApiEndpoint', {
        vpcEndpointId: props.vpcEndpointId,
        port: 443,
      });
      this.broker = new TokenBroker(this, 'TokenBroker', { ...common, vpcEndpoints: [endpoint] });
      return;
    }
    this.vpc = isolatedVpc(this);
    this.broker = new TokenBroker(this, 'TokenBroker', { ...common, vpc: this.vpc });
    if (exampleConsumer) {
      this.consumer = new ExampleConsumer(this, 'ExampleConsumer', {
        broker: this.broker,
        clientName: this.broker.clientNames[0] as string,
        vpc: this.vpc,
      });
    }
  }
}

/** Two AZs of isolated subnets: the consumers need no internet, only the `execute-api` endpoint. */
function isolatedVpc(scope: Construct): ec2.Vpc {
  const vpc = new ec2.Vpc(scope, 'Vpc', {
    maxAzs: 2,
    natGateways: 0,
    // Explicit, so it holds without the feature flag: the default security group admits nothing.
    restrictDefaultSecurityGroup: true,
    subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
  });
  const flowLogs = new logs.LogGroup(scope, 'VpcFlowLogs', {
    retention: logs.RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  vpc.addFlowLog('FlowLog', { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs) });
  return vpc;
}
