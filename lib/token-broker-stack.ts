import { CfnOutput, Fn, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { ENV } from '../lambda/shared/contract.ts';
import { AwsManagedPrefixList } from './aws-managed-prefix-list.ts';
import type { BrokerConfigInput } from './broker-config-input.ts';
import { ExampleConsumer } from './example-consumer.ts';
import { TokenBroker } from './token-broker.ts';

/**
 * Where the broker function runs:
 * - `outside`: in no VPC; it reaches AWS services and the authorization servers over the internet;
 * - `endpoints`: in the stack's isolated subnets, with VPC endpoints for Secrets Manager, KMS and
 *   DynamoDB; the authorization servers must be reachable privately (`authServerCidrs`);
 * - `nat`: in private subnets behind a NAT gateway, which reaches everything else.
 */
export type BrokerNetworkLayout = 'outside' | 'endpoints' | 'nat';

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
  /**
   * The broker's `service` in its logs and metrics; one per broker in an account and region. See
   * `TokenBrokerProps.serviceName`.
   * @default 'token-broker'
   */
  readonly serviceName?: string;
  /**
   * The new VPC's AZs (at least two). No lookup either way: `cdk synth` needs no credentials, even
   * for a stack with an account and a region.
   * @default - the first two CloudFormation lists for the region at deploy time (`Fn::GetAZs`)
   */
  readonly availabilityZones?: readonly string[];
  /** See `TokenBrokerProps.trustedCaCertificates`. @default Node.js's roots only */
  readonly trustedCaCertificates?: string;
  /**
   * Where the broker function runs; `endpoints` and `nat` need the VPC this stack creates.
   * @default 'outside'
   */
  readonly brokerNetwork?: BrokerNetworkLayout;
  /**
   * Address ranges of the authorization servers, to which the broker may connect on 443 from a
   * VPC (a security group cannot name a host). Required with `endpoints`.
   * @default with `nat`, any IPv4 address (the NAT gateway's way out); none otherwise
   */
  readonly authServerCidrs?: readonly string[];
  /**
   * An e-mail address notified of every alarm, through a new SNS topic. AWS sends it a message
   * to confirm the subscription first.
   * @default - alarms without notifications
   */
  readonly alarmEmail?: string;
  /**
   * Roles of other teams' functions that may get a client's tokens, by client name: admitted in
   * the API's resource policy; their owners allow `execute-api:Invoke` on the client's
   * `TokenMethodArn` output in the roles' own policies.
   * @default - none
   */
  readonly grants?: Readonly<Record<string, readonly string[]>>;
}

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/** The stack a platform team deploys as is: the broker, its network and an example consumer. */
export class TokenBrokerStack extends Stack {
  readonly broker: TokenBroker;
  /** The VPC the stack created; `undefined` with `vpcEndpointId`. */
  readonly vpc?: ec2.Vpc;
  readonly consumer?: ExampleConsumer;
  /** The topic of `alarmEmail`. */
  readonly alarmTopic?: sns.Topic;
  #zones: string[] | undefined;

  constructor(scope: Construct, id: string, props: TokenBrokerStackProps) {
    super(scope, id, props);
    const layout = props.brokerNetwork ?? 'outside';
    const exampleConsumer = props.exampleConsumer ?? props.vpcEndpointId === undefined;
    if (exampleConsumer && props.vpcEndpointId !== undefined) {
      throw new Error('exampleConsumer needs the VPC this stack creates; it cannot be used with vpcEndpointId');
    }
    if (layout !== 'outside' && props.vpcEndpointId !== undefined) {
      throw new Error(
        `brokerNetwork "${layout}" needs the VPC this stack creates; it cannot be used with vpcEndpointId`,
      );
    }
    if (layout === 'endpoints' && !props.authServerCidrs?.length) {
      throw new Error(
        'brokerNetwork "endpoints" has no way to the internet: give authServerCidrs, the address ranges of the ' +
          'authorization servers reachable from the VPC (peering, VPN, Transit Gateway), or use brokerNetwork "nat"',
      );
    }
    if (props.authServerCidrs && layout === 'outside') {
      throw new Error('authServerCidrs applies to a broker in the VPC: set brokerNetwork to "endpoints" or "nat"');
    }
    this.alarmTopic = props.alarmEmail === undefined ? undefined : this.createAlarmTopic(props.alarmEmail);
    const common = {
      config: props.config,
      apiGatewayCloudWatchRole: props.apiGatewayCloudWatchRole ?? true,
      reservedConcurrency: props.reservedConcurrency,
      sharedCache: props.sharedCache ?? true,
      alarmTopic: this.alarmTopic,
      ...(props.serviceName === undefined ? {} : { serviceName: props.serviceName }),
      ...(props.trustedCaCertificates === undefined ? {} : { trustedCaCertificates: props.trustedCaCertificates }),
    };
    if (props.vpcEndpointId !== undefined) {
      const endpoint = ec2.InterfaceVpcEndpoint.fromInterfaceVpcEndpointAttributes(this, 'ExecuteApiEndpoint', {
        vpcEndpointId: props.vpcEndpointId,
        port: 443,
      });
      this.broker = new TokenBroker(this, 'TokenBroker', { ...common, vpcEndpoints: [endpoint] });
      new CfnOutput(this, 'BrokerUrlViaEndpoint', {
        description:
          `Invoke URL through ${props.vpcEndpointId} alone: ${ENV.brokerUrl} for callers whose VPC ` +
          'resolves the standard URL elsewhere (the endpoint has no private DNS)',
        value: this.broker.endpointSpecificUrl(endpoint),
      });
      this.addGrants(props.grants);
      return;
    }
    this.#zones = zonesWithoutLookup(props.availabilityZones);
    this.vpc = layout === 'nat' ? natVpc(this) : isolatedVpc(this);
    const cidrs = props.authServerCidrs ?? (layout === 'nat' ? ['0.0.0.0/0'] : []);
    this.broker = new TokenBroker(this, 'TokenBroker', {
      ...common,
      vpc: this.vpc,
      ...(layout === 'outside'
        ? {}
        : { brokerNetwork: { vpc: this.vpc, egress: cidrs.map((cidr) => ec2.Peer.ipv4(cidr)) } }),
    });
    if (layout === 'endpoints') {
      this.addServiceEndpoints(
        this.vpc,
        props.config.clients.some((c) => c.authMethod === 'aws_web_identity'),
      );
    }
    if (exampleConsumer) {
      this.consumer = new ExampleConsumer(this, 'ExampleConsumer', {
        broker: this.broker,
        clientName: this.broker.clientNames[0] as string,
        vpc: this.vpc,
      });
    }
    this.addGrants(props.grants);
    this.addNetworkOutputs(this.vpc);
  }

  /** The zones CDK spreads the VPC over: {@link zonesWithoutLookup}'s, so none is looked up. */
  override get availabilityZones(): string[] {
    return this.#zones ?? super.availabilityZones;
  }

  private createAlarmTopic(email: string): sns.Topic {
    if (!EMAIL.test(email)) throw new Error(`alarmEmail "${email}" is not an e-mail address`);
    const topic = new sns.Topic(this, 'AlarmTopic', { displayName: 'Token broker alarms', enforceSSL: true });
    // enforceSSL makes a topic policy, which replaces SNS's default one: without this statement the
    // account's CloudWatch alarms could not publish to the topic, and no notification would arrive.
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': this.account },
          ArnLike: { 'aws:SourceArn': `arn:${this.partition}:cloudwatch:${this.region}:${this.account}:alarm:*` },
        },
      }),
    );
    topic.addSubscription(new subscriptions.EmailSubscription(email));
    Validations.of(topic).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SNS2',
      reason:
        'Alarm notifications carry alarm names, states and metric values, nothing secret; a customer managed key ' +
        'would need a key policy for CloudWatch and cost a key per stack for no confidentiality gained.',
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      description: `Alarms notify ${email} (after the subscription is confirmed); subscribe more endpoints here`,
      value: topic.topicArn,
    });
    return topic;
  }

  /**
   * What a broker in isolated subnets needs besides its authorization servers: interface
   * endpoints for Secrets Manager, KMS and (with `aws_web_identity` clients) STS that admit the
   * broker only, and a gateway endpoint for
   * DynamoDB (free) with a security group rule towards its prefix list.
   */
  private addServiceEndpoints(vpc: ec2.Vpc, callsSts: boolean): void {
    const subnets = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
    const services = {
      SecretsManagerEndpoint: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      KmsEndpoint: ec2.InterfaceVpcEndpointAwsService.KMS,
      // aws_web_identity clients: GetWebIdentityToken on the regional STS endpoint.
      ...(callsSts ? { StsEndpoint: ec2.InterfaceVpcEndpointAwsService.STS } : {}),
    };
    for (const [id, service] of Object.entries(services)) {
      const endpoint = vpc.addInterfaceEndpoint(id, { service, subnets, privateDnsEnabled: true, open: false });
      this.broker.connections.allowTo(endpoint, ec2.Port.tcp(443), 'HTTPS from the token broker');
    }
    if (!this.broker.sharedCache) return;
    vpc.addGatewayEndpoint('DynamoDbEndpoint', {
      service: ec2.GatewayVpcEndpointAwsService.DYNAMODB,
      subnets: [subnets],
    });
    const dynamoDb = new AwsManagedPrefixList(this, 'DynamoDbPrefixList', { service: 'dynamodb' });
    this.broker.connections.allowTo(ec2.Peer.prefixList(dynamoDb.prefixListId), ec2.Port.tcp(443), 'DynamoDB');
  }

  private addGrants(grants: TokenBrokerStackProps['grants']): void {
    const roles = new Map<string, iam.IRole>();
    for (const [client, arns] of Object.entries(grants ?? {})) {
      for (const arn of arns) {
        let role = roles.get(arn);
        if (!role) {
          role = iam.Role.fromRoleArn(this, `Grantee${roles.size}`, arn, { mutable: false });
          roles.set(arn, role);
        }
        this.broker.grantTokenAccess(role, client);
      }
    }
  }

  private addNetworkOutputs(vpc: ec2.Vpc): void {
    new CfnOutput(this, 'VpcId', { description: 'The VPC callers run in', value: vpc.vpcId });
    new CfnOutput(this, 'CallerSubnetIds', {
      description: "Subnets for callers' functions (comma-separated); their security group needs HTTPS out",
      value: Fn.join(',', vpc.selectSubnets().subnetIds),
    });
    const endpoint = this.broker.vpcEndpoint;
    if (endpoint) {
      new CfnOutput(this, 'ExecuteApiEndpointId', {
        description: "The execute-api endpoint (private DNS on) through which the broker's API is reached",
        value: endpoint.vpcEndpointId,
      });
    }
  }
}

/**
 * The zones the new VPC may use, with no lookup (synth needs no credentials): the given ones, or
 * the first two CloudFormation lists at deploy time (`Fn::GetAZs`), as in a stack without an
 * account and a region. With both, CDK would otherwise list the account's zones through EC2.
 */
function zonesWithoutLookup(given: readonly string[] | undefined): string[] {
  if (given === undefined) return [0, 1].map((i) => Fn.select(i, Fn.getAzs()));
  if (given.length < 2) throw new Error(`availabilityZones needs at least two zones (got ${given.length})`);
  return [...given];
}

/** Two AZs of isolated subnets: the consumers need no internet, only the `execute-api` endpoint. */
function isolatedVpc(scope: Construct): ec2.Vpc {
  return withFlowLogs(
    scope,
    new ec2.Vpc(scope, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      // Explicit, so it holds without the feature flag: the default security group admits nothing.
      restrictDefaultSecurityGroup: true,
      subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
    }),
  );
}

/** Two AZs of private subnets behind one NAT gateway (in a public subnet): the broker's way out. */
function natVpc(scope: Construct): ec2.Vpc {
  return withFlowLogs(
    scope,
    new ec2.Vpc(scope, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      restrictDefaultSecurityGroup: true,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 24 },
      ],
    }),
  );
}

function withFlowLogs(scope: Construct, vpc: ec2.Vpc): ec2.Vpc {
  const flowLogs = new logs.LogGroup(scope, 'VpcFlowLogs', {
    retention: logs.RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  vpc.addFlowLog('FlowLog', { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs) });
  return vpc;
}
