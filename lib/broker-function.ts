import { type Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { API_ALIAS, ENV, METRICS_NAMESPACE } from '../lambda/shared/contract.ts';
import { BROKER_ENTRY, brokerFunctionCode, nodejsFunctionDefaults } from './bundling.ts';
import type { BrokerNetwork } from './token-broker-props.ts';
import { TRUSTED_CA_FILE, type TrustedCa, TrustedCaLayer } from './trusted-ca.ts';

export interface BrokerFunctionProps {
  /** JSON text of the runtime configuration, secret ARNs filled in. Never a secret value. */
  readonly configJson: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly reservedConcurrency?: number;
  readonly logRetention: logs.RetentionDays;
  /** The `service` of its log lines and metrics. */
  readonly serviceName: string;
  /** @default outside any VPC */
  readonly network?: BrokerNetwork;
  /** CA certificates to trust for the token endpoints besides Node.js's roots, checked. @default none */
  readonly trustedCas?: readonly TrustedCa[];
}

/**
 * The network interfaces Lambda creates for a function in a VPC, with the function's role: what
 * the AWS managed `AWSLambdaVPCAccessExecutionRole` allows, without its log permissions.
 */
const NETWORK_INTERFACE_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
];

/** The broker Lambda, with its own log group and a role that starts with no permissions but its logs. */
export class BrokerFunction extends Construct {
  readonly function: lambda.Function;
  /**
   * The alias API Gateway invokes (`API_ALIAS`): the broker trusts the caller identity in an API
   * event only when invoked through it.
   */
  readonly apiAlias: lambda.Alias;
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: BrokerFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // An explicit role instead of AWSLambdaBasicExecutionRole, whose log actions apply to every log group.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description:
        'Token broker function: writes its own logs, reads the configured client secrets, uses its token cache',
    });
    this.logGroup.grantWrite(this.role);
    const network = props.network;
    if (network) {
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: NETWORK_INTERFACE_ACTIONS, resources: ['*'] }));
    }

    const functionProps = {
      memorySize: props.memorySize,
      timeout: props.timeout,
      reservedConcurrentExecutions: props.reservedConcurrency,
      role: this.role,
      logGroup: this.logGroup,
      tracing: lambda.Tracing.ACTIVE,
      description: 'OAuth 2.0 client-credentials token broker',
      // A version per deployment for the API alias; the one it replaces goes once the alias moved.
      currentVersionOptions: { removalPolicy: RemovalPolicy.DESTROY },
      environment: {
        [ENV.brokerConfig]: props.configJson,
        [ENV.powertoolsServiceName]: props.serviceName,
        [ENV.powertoolsMetricsNamespace]: METRICS_NAMESPACE,
      },
      ...(network
        ? {
            vpc: network.vpc,
            vpcSubnets: network.vpcSubnets,
            securityGroups: network.securityGroups ? [...network.securityGroups] : [this.securityGroup(network)],
          }
        : {}),
    };
    // In the published package the broker is prebuilt; in this repository it is bundled from source.
    const prebuilt = brokerFunctionCode();
    this.function = prebuilt
      ? new lambda.Function(this, 'Function', { ...prebuilt, ...functionProps })
      : new nodejs.NodejsFunction(this, 'Function', { ...nodejsFunctionDefaults(BROKER_ENTRY), ...functionProps });
    if (props.trustedCas !== undefined) {
      const { layer } = new TrustedCaLayer(this, 'TrustedCa', {
        certificates: props.trustedCas,
        architecture: this.function.architecture,
      });
      this.function.addLayers(layer);
      this.function.addEnvironment(ENV.trustedCaFile, TRUSTED_CA_FILE);
    }
    this.apiAlias = new lambda.Alias(this, 'ApiAlias', { aliasName: API_ALIAS, version: this.function.currentVersion });
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason: network
        ? 'Active tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, and a function in a VPC needs ' +
          'the ec2 network interface actions Lambda uses for it; none of these supports a resource ARN.'
        : 'Active tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource ARN.',
    });
  }

  /** No ingress (nothing calls the function over the network), and HTTPS to the given peers only. */
  private securityGroup(network: BrokerNetwork): ec2.SecurityGroup {
    const group = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: network.vpc,
      description: 'Token broker function: HTTPS out to its authorization servers and AWS endpoints only',
      allowAllOutbound: false,
    });
    for (const peer of network.egress ?? []) {
      group.addEgressRule(peer, ec2.Port.tcp(443), 'HTTPS from the token broker');
    }
    return group;
  }
}
