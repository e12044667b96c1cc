import { Annotations, CfnOutput, Stack, Token, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { ENV } from '../lambda/shared/contract.ts';
import { auditQuery } from './audit-query.ts';
import { BrokerAlarms } from './broker-alarms.ts';
import { type BrokerConfigInput, validateBrokerConfig } from './broker-config-input.ts';
import { BrokerDashboard } from './broker-dashboard.ts';
import { BrokerFunction } from './broker-function.ts';
import { BrokerMetricSource } from './broker-metrics.ts';
import { ClientSecrets, secretIdOf } from './client-secrets.ts';
import { PrivateTokenApi } from './private-token-api.ts';
import { checkProps } from './props-error.ts';
import { defaultCacheNamespace, SharedTokenCache } from './shared-token-cache.ts';
import { principalArnOf } from './token-access.ts';
import type { TokenBrokerProps } from './token-broker-props.ts';
import { parseTrustedCaCertificates } from './trusted-ca.ts';
import { validateTokenBrokerProps } from './validate-token-broker-props.ts';
import { WarmUpSchedule } from './warm-up-schedule.ts';
import { grantWebIdentityTokens } from './web-identity-tokens.ts';

/**
 * The OAuth 2.0 client-credentials token broker: a Lambda function behind a private, IAM
 * authorized REST API, the client secrets it reads, the fleet token cache its instances share
 * (a DynamoDB table and a KMS key), a warm-up schedule and alarms.
 *
 * Callers get a token with `GET {brokerUrl}clients/{name}/token`, signed with SigV4, from inside
 * a VPC whose `execute-api` endpoint is allowed. Give a caller access with `grantTokenAccess`.
 */
export class TokenBroker extends Construct implements ec2.IConnectable {
  /** The stage's invoke URL, ending in `/`: the value of `TOKEN_BROKER_URL` for callers. */
  readonly brokerUrl: string;
  readonly function: lambda.Function;
  readonly api: PrivateTokenApi;
  /** The dashboard; `undefined` with `dashboard: false`. */
  readonly dashboard?: BrokerDashboard;
  /** The fleet token cache; `undefined` with `sharedCache: false`. */
  readonly sharedCache?: SharedTokenCache;
  /** The `execute-api` endpoint the construct created in `vpc`, if it created one. */
  readonly vpcEndpoint?: ec2.InterfaceVpcEndpoint;
  readonly alarms: readonly cloudwatch.Alarm[];
  readonly clientNames: readonly string[];
  /** The `service` of its log lines and metrics (prop `serviceName`). */
  readonly serviceName: string;
  private readonly strictTokenAccess: boolean;

  constructor(scope: Construct, id: string, props: TokenBrokerProps) {
    super(scope, id);
    const clientSecretsProp = props.clientSecrets ?? {};
    const parsed = checkProps(this, () => validateBrokerConfig(props.config, new Set(Object.keys(clientSecretsProp))));
    const maxDeadlineMs = Math.max(...parsed.clients.map((c) => c.deadlineMs));
    const settings = checkProps(this, () => validateTokenBrokerProps(props, maxDeadlineMs));
    this.clientNames = parsed.clients.map((c) => c.name);
    this.serviceName = settings.serviceName;
    checkProps(this, () => checkServiceNameUnique(this));
    const trustedCas =
      props.trustedCaCertificates === undefined
        ? undefined
        : checkProps(this, () => parseTrustedCaCertificates(props.trustedCaCertificates));
    this.strictTokenAccess = props.strictTokenAccess ?? true;

    const secrets = checkProps(
      this,
      () => new ClientSecrets(this, 'Secrets', { clients: props.config.clients, existing: clientSecretsProp }),
    );
    const broker = new BrokerFunction(this, 'Broker', {
      configJson: Stack.of(this).toJsonString(runtimeConfig(props.config, secrets)),
      memorySize: settings.memorySize,
      timeout: settings.timeout,
      reservedConcurrency: settings.reservedConcurrency,
      logRetention: settings.logRetention,
      serviceName: settings.serviceName,
      network: props.brokerNetwork,
      ...(trustedCas ? { trustedCas } : {}),
    });
    this.function = broker.function;
    secrets.grantRead(this.function);
    secrets.restrictCreatedSecrets([
      broker.role.roleArn,
      ...(props.breakGlassRole ? [props.breakGlassRole.roleArn] : []),
    ]);
    grantWebIdentityTokens(this.function, props.config.clients);
    if (this.function.role && props.config.clients.some((c) => c.authMethod === 'aws_web_identity')) {
      new CfnOutput(this, 'WebIdentitySubject', {
        description:
          "The sub of the broker's AWS web identity tokens: what the authorization servers of aws_web_identity " +
          "clients trust, with the account's outbound federation issuer URL",
        value: this.function.role.roleArn,
      });
    }
    if (settings.sharedCache) {
      this.sharedCache = new SharedTokenCache(this, 'SharedCache', {
        ...settings.sharedCache,
        namespace: settings.sharedCache.namespace ?? defaultCacheNamespace(this),
      });
      this.sharedCache.configureBroker(this.function);
      if (props.breakGlassRole) this.sharedCache.allowBreakGlass(props.breakGlassRole);
    }

    this.vpcEndpoint = props.vpc
      ? new ec2.InterfaceVpcEndpoint(this, 'ExecuteApiEndpoint', {
          vpc: props.vpc,
          service: ec2.InterfaceVpcEndpointAwsService.APIGATEWAY,
          privateDnsEnabled: true,
          subnets: props.vpcEndpointSubnets,
          open: true,
        })
      : undefined;
    if (this.vpcEndpoint) {
      Validations.of(this.vpcEndpoint).acknowledge({
        id: 'AwsSolutions::AwsSolutions-EC23',
        reason:
          "The endpoint's security group admits port 443 from the VPC's own CIDR block only (a reference nag " +
          'cannot resolve), not from 0.0.0.0/0.',
      });
    }
    this.api = new PrivateTokenApi(this, 'Api', {
      handler: broker.apiAlias,
      clientNames: this.clientNames,
      vpcEndpoints: this.vpcEndpoint ? [this.vpcEndpoint] : (props.vpcEndpoints ?? []),
      stageName: settings.stageName,
      throttlingRateLimit: settings.throttlingRateLimit,
      throttlingBurstLimit: settings.throttlingBurstLimit,
      logRetention: settings.logRetention,
      cloudWatchRole: props.apiGatewayCloudWatchRole ?? true,
      strictAccess: this.strictTokenAccess,
    });
    this.brokerUrl = this.api.api.url;

    const warmUp = settings.warmUpInterval
      ? // Through the API alias: its instances (a version's) are the ones API Gateway's requests reach.
        new WarmUpSchedule(this, 'WarmUp', { handler: broker.apiAlias, interval: settings.warmUpInterval })
      : undefined;
    if (warmUp) {
      // Only the warm-up invokes asynchronously; retrying a failed warm-up is pointless, the
      // failure already shows in the function's Errors alarm.
      broker.apiAlias.configureAsyncInvoke({ retryAttempts: 0 });
    }
    const metrics = new BrokerMetricSource(settings.serviceName);
    this.alarms = new BrokerAlarms(this, 'Alarms', {
      function: this.function,
      metrics,
      stage: this.api.api.deploymentStage,
      warmUp,
      sharedCache: this.sharedCache !== undefined,
      topic: props.alarmTopic,
    }).alarms;
    if (props.dashboard ?? true) {
      this.dashboard = new BrokerDashboard(this, 'Dashboard', {
        function: this.function,
        metrics,
        stage: this.api.api.deploymentStage,
        alarms: this.alarms,
        warmUp,
        sharedCache: this.sharedCache !== undefined,
      });
    }
    auditQuery(this, 'AuditQuery', broker.logGroup);
    this.addOutputs();
  }

  /**
   * The function's security groups, with `brokerNetwork`: e.g.
   * `broker.connections.allowTo(endpoint, ec2.Port.tcp(443))`.
   * @throws when the function runs in no VPC
   */
  get connections(): ec2.Connections {
    if (!this.function.isBoundToVpc) {
      throw new Error(`${this.node.path}: connections exist only for a broker in a VPC (brokerNetwork)`);
    }
    return this.function.connections;
  }

  /**
   * `https://{api}-{vpce}.execute-api.{region}.amazonaws.com/{stage}/`: the invoke URL through one
   * endpoint, for callers in a VPC whose `execute-api` endpoint has no private DNS (it resolves
   * publicly to that endpoint's private addresses). The endpoint must be one the API allows.
   */
  endpointSpecificUrl(endpoint: ec2.IVpcEndpoint): string {
    const { region, urlSuffix } = Stack.of(this);
    const stage = this.api.api.deploymentStage.stageName;
    return `https://${this.api.api.restApiId}-${endpoint.vpcEndpointId}.execute-api.${region}.${urlSuffix}/${stage}/`;
  }

  private addOutputs(): void {
    new CfnOutput(this, 'BrokerUrl', {
      description: `Token broker invoke URL: set it as ${ENV.brokerUrl} of the functions that need tokens`,
      value: this.brokerUrl,
    });
    new CfnOutput(this, 'BrokerFunctionName', {
      description: 'Token broker function, for direct invocation (TOKEN_BROKER_FUNCTION)',
      value: this.function.functionName,
    });
    new CfnOutput(this, 'RestApiId', {
      description: 'Token broker REST API id (private): for endpoint-specific URLs and VPC endpoint policies',
      value: this.api.api.restApiId,
    });
    for (const name of this.clientNames) {
      new CfnOutput(this, `TokenMethodArn-${name}`, {
        description: `Allow execute-api:Invoke on this ARN to a role that needs client "${name}"'s tokens`,
        value: this.api.tokenMethod(name)?.methodArn as string,
      });
    }
  }

  /**
   * Lets `grantee` get tokens of client `clientName`, and no other: `execute-api:Invoke` on
   * exactly that client's method ARN. With `strictTokenAccess` (the default), also exempts its
   * ARN from the resource policy's deny on that method; a role this app does not manage
   * (`iam.Role.fromRoleArn(..., { mutable: false })`) is admitted there, and its owner adds the
   * IAM policy.
   *
   * @throws when no client is named `clientName`, or, with `strictTokenAccess`, when the grantee
   * has no role or user ARN this stack can name (see `principalArnOf`)
   */
  grantTokenAccess(grantee: iam.IGrantable, clientName: string): iam.Grant {
    const method = this.api.tokenMethod(clientName);
    if (!method) {
      throw new Error(
        `grantTokenAccess: clientName "${clientName}" is not a configured client (known: ${this.clientNames.join(', ')})`,
      );
    }
    if (this.strictTokenAccess) {
      this.api.admit(clientName, principalArnOf(grantee, this, `grantTokenAccess(${clientName})`));
    }
    return iam.Grant.addToPrincipal({ grantee, actions: ['execute-api:Invoke'], resourceArns: [method.methodArn] });
  }

  /**
   * Lets `grantee` invoke the broker function directly. A direct invocation can ask for any
   * client's token: prefer `grantTokenAccess`, which IAM limits to one client. The grant is on the
   * unqualified function only, not on the alias API Gateway invokes, so a direct invoker cannot
   * pass off an event of its own as API Gateway's and its caller identity as someone else's.
   */
  grantDirectInvoke(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['lambda:InvokeFunction'],
      resourceArns: [this.function.functionArn],
    });
  }

  /** Sets `TOKEN_BROKER_URL` on `consumer` and grants it the tokens of `clientName`. */
  configureConsumer(consumer: lambda.Function, clientName: string): iam.Grant {
    const grant = this.grantTokenAccess(consumer, clientName);
    consumer.addEnvironment(ENV.brokerUrl, this.brokerUrl);
    return grant;
  }
}

/** The configuration the function gets: every client's secret named by ARN, the rest as given. */
/**
 * Two brokers in one stack share an account and region: with the same service name their metrics
 * would add up and each one's alarms would fire for the other. Across the app's stacks, a twin in
 * a stack of the same account and region (or both environment-agnostic) gets a warning: the
 * construct cannot know where they are deployed.
 */
function checkServiceNameUnique(broker: TokenBroker): void {
  if (Token.isUnresolved(broker.serviceName)) return;
  const stack = Stack.of(broker);
  const twins = broker.node.root.node
    .findAll()
    .filter((c): c is TokenBroker => c !== broker && c instanceof TokenBroker && c.serviceName === broker.serviceName);
  const inStack = twins.find((twin) => Stack.of(twin) === stack);
  if (inStack) {
    throw new Error(
      `serviceName "${broker.serviceName}" is also the service name of ${inStack.node.path}: give each broker its own, or their metrics and alarms mix`,
    );
  }
  const sameEnvironment = twins.find(
    (twin) => Stack.of(twin).account === stack.account && Stack.of(twin).region === stack.region,
  );
  if (sameEnvironment) {
    Annotations.of(broker).addWarningV2(
      'm2m-token-broker:sharedServiceName',
      `serviceName "${broker.serviceName}" is also the service name of ${sameEnvironment.node.path}: if both stacks deploy to the same account and region, give each broker its own, or their metrics and alarms mix`,
    );
  }
}

function runtimeConfig(config: BrokerConfigInput, secrets: ClientSecrets): BrokerConfigInput {
  return {
    ...config,
    clients: config.clients.map((client) => {
      const resolved = secrets.of(client.name);
      if (!resolved) return client;
      const { secret, field } = resolved;
      return {
        ...client,
        clientSecret: field === undefined ? { secretId: secretIdOf(secret) } : { secretId: secretIdOf(secret), field },
      };
    }),
  };
}
