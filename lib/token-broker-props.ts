import type { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { BrokerConfigInput } from './broker-config-input.ts';
import type { ExistingClientSecret } from './client-secrets.ts';

export interface TokenBrokerProps {
  /**
   * The clients, in the runtime's configuration schema (`lambda/broker/config.ts`). A client's
   * `clientSecret` is `{ secretId: name or ARN, field? }` for an existing secret, or is omitted:
   * then the secret comes from `clientSecrets`, or the construct creates one with a placeholder
   * value and an output with the command that puts the real one. Literal `{ value }` secrets are
   * refused. A client with `authMethod: 'aws_web_identity'` has no secret: the function's role
   * may call `sts:GetWebIdentityToken` for its audience instead. Validated at synth time by the
   * runtime's own parser.
   */
  readonly config: BrokerConfigInput;

  /**
   * Existing secrets given as constructs, by client name, for clients whose `clientSecret` is
   * omitted in `config`. Use this for a secret encrypted with a customer managed key (set the
   * secret's `encryptionKey`), so the function may also decrypt with that key.
   * @default - none: omitted secrets are created with a placeholder value
   */
  readonly clientSecrets?: Readonly<Record<string, ExistingClientSecret>>;

  /**
   * Existing interface VPC endpoints for `execute-api` through which the API may be called, e.g.
   * `InterfaceVpcEndpoint.fromInterfaceVpcEndpointAttributes(this, 'E', { vpcEndpointId, port: 443 })`.
   * Give either this or `vpc`.
   * @default - an endpoint created in `vpc`
   */
  readonly vpcEndpoints?: readonly ec2.IVpcEndpoint[];

  /**
   * The VPC in which to create an `execute-api` interface endpoint (private DNS on, port 443 open
   * to the VPC's CIDR). Give either this or `vpcEndpoints`.
   * @default - none: `vpcEndpoints` must be given
   */
  readonly vpc?: ec2.IVpc;

  /**
   * Subnets of `vpc` for the created endpoint.
   * @default - the VPC's private subnets, else its isolated ones (one per AZ)
   */
  readonly vpcEndpointSubnets?: ec2.SubnetSelection;

  /**
   * Memory of the broker function, in MiB (also buys CPU for cold start and JWT signing).
   * @default 512
   */
  readonly memorySize?: number;

  /**
   * Reserved concurrency of the broker function: caps the load on the authorization servers and
   * keeps other functions from starving the broker. Must leave the account's unreserved minimum
   * (100 unreserved executions; a new account's whole quota may be only 10), which is why it is
   * off unless set.
   * @default no reservation (the function uses the account's unreserved pool)
   */
  readonly reservedConcurrency?: number;

  /**
   * Timeout of the broker function. Must exceed every client's `deadlineMs` and stay below API
   * Gateway's 29 s integration timeout, so a slow token request ends as the broker's own error.
   * @default the largest `deadlineMs` (15 s unless configured) plus 5 s, at most 28 s
   */
  readonly timeout?: Duration;

  /**
   * Retention of the function's logs and the API's access logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Stage name, the last segment of the invoke URL.
   * @default 'v1'
   */
  readonly stageName?: string;

  /**
   * Steady-state requests per second the stage accepts, all clients together.
   * @default 50
   */
  readonly throttlingRateLimit?: number;

  /**
   * Burst of requests the stage accepts above the rate limit.
   * @default 100
   */
  readonly throttlingBurstLimit?: number;

  /**
   * Create the role that lets API Gateway write logs, and set it as the account's
   * (`AWS::ApiGateway::Account`). The stage's execution and access logs need it: in an account
   * without one, the deployment fails. It is one setting per account and region, shared by every
   * API there: the last stack to set it wins, and both the role and the setting are kept when
   * the stack is deleted (other APIs may rely on them). Set `false` when the account already has
   * a role (`aws apigateway get-account` shows a `cloudwatchRoleArn`), and in all but one of
   * several brokers deployed to one account and region.
   * @default true
   */
  readonly apiGatewayCloudWatchRole?: boolean;

  /**
   * Invoke the function on a schedule with `{ "warmup": true, "lookAheadSeconds": N }`, where N is
   * `warmUpInterval` plus 60 s: each warm-up refreshes the tokens that would come due before the next.
   * @default true
   */
  readonly warmUp?: boolean;

  /**
   * Interval of the warm-up schedule, in whole minutes, at most 59: its look-ahead (interval plus
   * 60 s) must stay within the broker's bound of 3600 s.
   * @default Duration.minutes(5)
   */
  readonly warmUpInterval?: Duration;

  /**
   * The fleet token cache that all instances of the function share: `true` for a new DynamoDB
   * table and KMS key, an object to pass an existing table, key or namespace (whatever it leaves
   * out is created or derived as with `true`), `false` for each instance's memory cache only.
   * @default true
   */
  readonly sharedCache?: boolean | SharedCacheOptions;

  /**
   * Topic notified when an alarm fires and when it recovers.
   * @default - alarms without actions
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * The broker's name in its logs and metrics: the `service` field of every log line and the
   * `service` dimension of every metric, which its alarms and dashboard watch. Give each broker in
   * an account and region its own (two in one stack must differ), or their metrics add up and each
   * one's alarms fire for the other. 1 to 64 letters, digits, dots, hyphens or underscores.
   * @default 'token-broker'
   */
  readonly serviceName?: string;

  /**
   * A CloudWatch dashboard of the broker: requests and errors by code, cache sources, token
   * requests and latency per authorization server, remaining lifetime of served tokens,
   * warm-ups, the fleet cache and the function.
   * @default true
   */
  readonly dashboard?: boolean;

  /**
   * Run the broker function in a VPC: to reach an authorization server that is only reachable
   * privately, or to keep its traffic off the internet. The VPC then needs a way to Secrets
   * Manager, KMS and DynamoDB (VPC endpoints or a NAT gateway), and to the authorization servers.
   * @default - outside any VPC: the function reaches AWS services and the authorization servers
   * over the internet
   */
  readonly brokerNetwork?: BrokerNetwork;

  /**
   * CA certificates the broker trusts for its token endpoints besides Node.js's own roots, as PEM
   * text (one or more `CERTIFICATE` blocks; read a file with `readFileSync('ca.pem', 'utf8')`):
   * for authorization servers whose TLS certificate a private CA issued, an internal Keycloak say.
   * They are deployed in a Lambda layer and apply to the token endpoints' connections only (mutual
   * TLS ones included), not to the function's AWS connections. Each must be a CA or self-signed
   * certificate; a private key or any other PEM block fails synth, and one outside its validity
   * period gets a warning.
   * @default - Node.js's roots only
   */
  readonly trustedCaCertificates?: string;

  /**
   * Each client's route admits only the principals granted with `grantTokenAccess`: the API's
   * resource policy denies that route's method to every other principal (`aws:PrincipalArn`), so
   * an IAM policy with a broad `execute-api:Invoke` does not reach another client's token.
   * A client granted to nobody is denied to everyone. Grantees must have an ARN
   * (roles, users, functions' roles) in this stack or given as a literal ARN.
   * @default true
   */
  readonly strictTokenAccess?: boolean;

  /**
   * A role for emergencies, exempt from the resource policies that otherwise let only the broker
   * read the secrets the construct creates and use the fleet cache's key. It gets no permission
   * here besides `kms:Decrypt` in the key's policy: give it `secretsmanager:GetSecretValue` in
   * its own policy, and watch its use in CloudTrail.
   * @default - none: only the broker's role reads those secrets and uses that key
   */
  readonly breakGlassRole?: iam.IRole;
}

/** Where the broker function runs when it runs in a VPC. */
export interface BrokerNetwork {
  readonly vpc: ec2.IVpc;

  /**
   * Subnets of the function's network interfaces.
   * @default - the VPC's private subnets with egress, else its isolated ones
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * Security groups of the function. Their rules are yours: `egress` does not apply to them.
   * @default - a new group that admits nothing and lets out HTTPS (443) to `egress` only
   */
  readonly securityGroups?: readonly ec2.ISecurityGroup[];

  /**
   * Where the new security group lets the function connect on 443: the authorization servers,
   * VPC endpoints, a proxy. A peer is a CIDR block (`ec2.Peer.ipv4('203.0.113.0/24')`), a managed
   * prefix list (`ec2.Peer.prefixList('pl-...')`) or a security group (e.g. a VPC endpoint's).
   * A host name cannot be a rule (security groups match addresses, not names): give the
   * authorization server's address ranges, `ec2.Peer.anyIpv4()` behind a NAT gateway, or send
   * the traffic through a proxy or AWS Network Firewall that filters by name. More peers can be
   * added later with `broker.connections.allowTo(peer, ec2.Port.tcp(443))`.
   * @default - none
   */
  readonly egress?: readonly ec2.IPeer[];
}

/** The fleet token cache's table, key and namespace; what is left out is created or derived. */
export interface SharedCacheOptions {
  /**
   * An existing table with partition key `pk` (string) and TTL attribute `ttl` (epoch seconds),
   * e.g. one shared by several brokers, each under its own namespace. If it is encrypted with a
   * customer managed key, grant the broker's role that key's use yourself.
   * @default - a new table: on-demand, TTL on, AWS managed encryption, deleted with the stack
   */
  readonly table?: dynamodb.ITable;

  /**
   * An existing KMS key that encrypts the cached tokens: a key, not an alias (the grant names the
   * key's ARN). Its key policy must let this account's IAM policies grant its use (the default key
   * policy does).
   * @default - a new customer managed key with automatic rotation, deleted with the stack
   */
  readonly key?: kms.IKey;

  /**
   * Scopes this broker's items and its use of the key: letters, digits, `.`, `_`, `-`, at most 64.
   * Brokers sharing a table or key must have different namespaces.
   * @default - the stack name and the construct path, readable and hashed: stable across deploys and
   * distinct per broker
   */
  readonly namespace?: string;
}
