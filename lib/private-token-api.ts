import { Lazy, Names, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { estimatedPolicyLength } from './resource-policy-length.ts';

export interface PrivateTokenApiProps {
  readonly handler: lambda.IFunction;
  readonly clientNames: readonly string[];
  readonly vpcEndpoints: readonly ec2.IVpcEndpoint[];
  readonly stageName: string;
  readonly throttlingRateLimit: number;
  readonly throttlingBurstLimit: number;
  readonly logRetention: logs.RetentionDays;
  readonly cloudWatchRole: boolean;
  /** Deny each client's method to every principal not admitted with {@link PrivateTokenApi.admit}. */
  readonly strictAccess: boolean;
}

/** API Gateway's quota "Length, in characters, of API Gateway resource policy" (adjustable). */
export const RESOURCE_POLICY_MAX_LENGTH = 8192;

/**
 * A private REST API with one `GET /clients/{name}/token` resource per client, each authorized by
 * IAM. One resource per client (not a `{name}` path parameter) gives every client its own method
 * ARN, so an IAM policy can grant one client's token and no other.
 */
export class PrivateTokenApi extends Construct {
  readonly api: apigateway.RestApi;
  readonly accessLogs: logs.LogGroup;
  /** The group API Gateway writes the stage's execution logs to, created first so it has a retention. */
  readonly executionLogs: logs.LogGroup;
  private readonly methods = new Map<string, apigateway.Method>();
  /** Strict access: per client, the principal ARNs admitted to its method. */
  private readonly admitted = new Map<string, string[]>();
  private readonly clientStatements = new Map<string, iam.PolicyStatement>();
  private readonly policy: iam.PolicyDocument;

  constructor(scope: Construct, id: string, props: PrivateTokenApiProps) {
    super(scope, id);
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.policy = vpcEndpointOnlyPolicy(props.vpcEndpoints);
    if (props.strictAccess) this.addClientStatements(props.clientNames);
    this.api = new apigateway.RestApi(this, 'Api', {
      restApiName: Names.uniqueResourceName(this, { maxLength: 128 }),
      description: 'OAuth 2.0 token broker (private, IAM authorized)',
      endpointConfiguration: {
        types: [apigateway.EndpointType.PRIVATE],
        vpcEndpoints: [...props.vpcEndpoints],
      },
      policy: this.policy,
      cloudWatchRole: props.cloudWatchRole,
      ...(props.cloudWatchRole ? { cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN } : {}),
      deployOptions: {
        stageName: props.stageName,
        throttlingRateLimit: props.throttlingRateLimit,
        throttlingBurstLimit: props.throttlingBurstLimit,
        tracingEnabled: true,
        // Errors only, and never bodies: a response body holds an access token.
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        accessLogDestination: new apigateway.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields({
          caller: true,
          httpMethod: true,
          ip: true,
          protocol: true,
          requestTime: true,
          resourcePath: true,
          responseLength: true,
          status: true,
          user: true,
        }),
      },
    });
    // API Gateway creates this group at the first error it logs, without a retention; created
    // here (before the stage), it gets one and goes with the stack.
    this.executionLogs = new logs.LogGroup(this, 'ExecutionLogs', {
      logGroupName: `API-Gateway-Execution-Logs_${this.api.restApiId}/${props.stageName}`,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.api.deploymentStage.node.addDependency(this.executionLogs);
    // The construct outputs the same URL, with a description, as `BrokerUrl`.
    this.api.node.tryRemoveChild('Endpoint');
    this.addTokenMethods(props);
    this.acknowledgeFindings(props.cloudWatchRole);
    this.node.addValidation({ validate: () => this.checkPolicyLength() });
  }

  /** The method of one client's token resource, or `undefined` for an unknown client. */
  tokenMethod(clientName: string): apigateway.Method | undefined {
    return this.methods.get(clientName);
  }

  /**
   * With strict access, exempts `principalArn` from the deny on `clientName`'s method. The
   * resource policy renders the admitted ARNs when the app is synthesized, so grants made after
   * construction count. Without strict access, does nothing: the caller's IAM policy decides.
   */
  admit(clientName: string, principalArn: string): void {
    const statement = this.clientStatements.get(clientName);
    const arns = this.admitted.get(clientName);
    if (!statement || !arns || arns.includes(principalArn)) return;
    if (arns.length === 0) {
      statement.addCondition('ArnNotEquals', { 'aws:PrincipalArn': Lazy.list({ produce: () => [...arns] }) });
    }
    arns.push(principalArn);
  }

  /**
   * One `Deny` per client, for everyone: unconditional until a principal is admitted, then for
   * everyone whose `aws:PrincipalArn` is not admitted. Each has a `Sid`, so minimized policies
   * never merge two clients' statements.
   */
  private addClientStatements(clientNames: readonly string[]): void {
    clientNames.forEach((name, i) => {
      const statement = new iam.PolicyStatement({
        sid: `OnlyGranteesGetClient${i}Tokens`,
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['execute-api:Invoke'],
        resources: [`execute-api:/*/GET/clients/${name}/token`],
      });
      this.policy.addStatements(statement);
      this.clientStatements.set(name, statement);
      this.admitted.set(name, []);
    });
  }

  private checkPolicyLength(): string[] {
    const length = estimatedPolicyLength(Stack.of(this).resolve(this.policy));
    if (length <= RESOURCE_POLICY_MAX_LENGTH) return [];
    const principals = [...this.admitted.values()].reduce((n, arns) => n + arns.length, 0);
    return [
      `The API's resource policy would be about ${length} characters, over API Gateway's limit of ` +
        `${RESOURCE_POLICY_MAX_LENGTH} (the adjustable quota "Length, in characters, of API Gateway resource ` +
        `policy"): ${this.clientStatements.size} clients and ${principals} grants with strictTokenAccess. Grant ` +
        'a role shared by the functions of one team instead of one role each, split the clients over two brokers, ' +
        'or raise the quota.',
    ];
  }

  private addTokenMethods(props: PrivateTokenApiProps): void {
    const integration = new apigateway.LambdaIntegration(props.handler, { proxy: true, allowTestInvoke: false });
    // API Gateway can only check that a parameter is present; the broker validates the scope tokens.
    const validator = this.api.addRequestValidator('QueryStringValidator', { validateRequestParameters: true });
    const clients = this.api.root.addResource('clients');
    for (const name of props.clientNames) {
      const method = clients
        .addResource(name)
        .addResource('token')
        .addMethod('GET', integration, {
          authorizationType: apigateway.AuthorizationType.IAM,
          requestValidator: validator,
          requestParameters: { 'method.request.querystring.scope': false },
        });
      this.methods.set(name, method);
    }
  }

  private acknowledgeFindings(cloudWatchRole: boolean): void {
    Validations.of(this.api).acknowledge(
      {
        id: 'AwsSolutions::AwsSolutions-APIG2',
        reason:
          'The validator checks request parameters (the optional scope query string); the GET methods take no ' +
          'body, so there is nothing for body validation to check.',
      },
      {
        id: 'AwsSolutions::AwsSolutions-APIG3',
        reason:
          'The API is PRIVATE: reachable only through the allowed VPC endpoints, and every method requires SigV4 ' +
          '(AWS_IAM); a WAF web ACL would filter traffic that cannot reach the API.',
      },
      {
        id: 'AwsSolutions::AwsSolutions-COG4',
        reason:
          'Callers are AWS workloads (Lambda roles), not users: methods use AWS_IAM authorization, so IAM decides ' +
          'per client which role may get a token. A Cognito user pool authorizer does not apply.',
      },
    );
    if (cloudWatchRole) {
      Validations.of(this.api).acknowledge({
        id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason:
          "API Gateway's account-wide logging role must be able to write any API's logs; the AWS managed policy " +
          'is the documented minimum for it.',
      });
    }
  }
}

/**
 * Denies every request that does not come through one of the VPC endpoints, and allows nothing.
 * For a same-account caller with IAM authorization, API Gateway allows a request when either the
 * caller's IAM policy or the resource policy allows it; an `Allow` here would therefore let every
 * role behind the endpoint read every client's token. Only the caller's own IAM policy authorizes.
 */
function vpcEndpointOnlyPolicy(endpoints: readonly ec2.IVpcEndpoint[]): iam.PolicyDocument {
  return new iam.PolicyDocument({
    statements: [
      new iam.PolicyStatement({
        sid: 'DenyUnlessThroughAllowedVpcEndpoints',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['execute-api:Invoke'],
        resources: ['execute-api:/*'],
        conditions: { StringNotEquals: { 'aws:SourceVpce': endpoints.map((e) => e.vpcEndpointId) } },
      }),
    ],
  });
}
