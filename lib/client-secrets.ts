import { Arn, ArnFormat, CfnOutput, type CfnOutputProps, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { type AuthMethod, isMutualTls } from '../lambda/broker/core/config.ts';
import type { BrokerClientInput } from './broker-config-input.ts';

/** A secret the caller already has, for one client. */
export interface ExistingClientSecret {
  readonly secret: secretsmanager.ISecret;
  /**
   * The JSON field of the secret value that holds the client secret (or private key). Not with
   * the mutual TLS methods: their secret is the JSON `{ "certificate", "privateKey" }` itself.
   * @default the whole secret string
   */
  readonly field?: string;
}

/** Where the broker reads one client's secret from, and whether the construct created it. */
export interface ResolvedClientSecret {
  readonly secret: secretsmanager.ISecret;
  readonly field?: string;
  readonly created: boolean;
}

export interface ClientSecretsProps {
  readonly clients: readonly BrokerClientInput[];
  readonly existing: Readonly<Record<string, ExistingClientSecret>>;
}

/**
 * One secret per client: the caller's (`ISecret`, or a name or ARN in the configuration) or, when
 * none is given, a new one holding a generated placeholder that the operator replaces. Clients
 * with `aws_web_identity` have none: AWS STS signs their client assertions.
 */
export class ClientSecrets extends Construct {
  private readonly byClient = new Map<string, ResolvedClientSecret>();

  constructor(scope: Construct, id: string, props: ClientSecretsProps) {
    super(scope, id);
    for (const [name, existing] of Object.entries(props.existing)) {
      const client = props.clients.find((c) => c.name === name);
      if (!client) {
        throw new Error(`clientSecrets.${name}: no client named "${name}" in config.clients`);
      }
      if (client.clientSecret !== undefined) {
        throw new Error(`clientSecrets.${name}: the client also has config clientSecret; give the secret once`);
      }
      if (client.authMethod === 'aws_web_identity') {
        throw new Error(`clientSecrets.${name}: the client uses authMethod aws_web_identity, which takes no secret`);
      }
      if (existing.field !== undefined && client.authMethod !== undefined && isMutualTls(client.authMethod)) {
        throw new Error(
          `clientSecrets.${name}.field: not used with authMethod ${client.authMethod}; ` +
            'the whole secret is the JSON { "certificate", "privateKey" }',
        );
      }
      this.byClient.set(name, { ...existing, created: false });
    }
    for (const client of props.clients) {
      if (this.byClient.has(client.name) || client.authMethod === 'aws_web_identity') continue;
      this.byClient.set(
        client.name,
        client.clientSecret === undefined
          ? { secret: this.createPlaceholder(client.name, client.authMethod ?? 'client_secret_post'), created: true }
          : {
              ...client.clientSecret,
              secret: this.importSecret(client.name, client.clientSecret.secretId),
              created: false,
            },
      );
    }
  }

  /** The secret of `clientName`; `undefined` for an `aws_web_identity` client, which has none. */
  of(clientName: string): ResolvedClientSecret | undefined {
    return this.byClient.get(clientName);
  }

  /**
   * `secretsmanager:GetSecretValue` on exactly these secrets, and `kms:Decrypt` through Secrets
   * Manager for those encrypted with a customer managed key. Not `grantRead`: the broker has no use
   * for `DescribeSecret`.
   */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    const secrets = [...this.byClient.values()].map((r) => r.secret);
    if (secrets.length === 0) return iam.Grant.drop(grantee, 'read client secrets: no client has one');
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['secretsmanager:GetSecretValue'],
      resourceArns: secrets.map(policyArnOf),
    });
    const keys = [...new Set(secrets.flatMap((s) => (s.encryptionKey ? [s.encryptionKey.keyArn] : [])))];
    if (keys.length === 0) return grant;
    return grant.combine(
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['kms:Decrypt'],
        resourceArns: keys,
        conditions: {
          StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.${Stack.of(this).urlSuffix}` },
        },
      }),
    );
  }

  /**
   * Gives each secret the construct created a resource policy that denies
   * `secretsmanager:GetSecretValue` to every principal but `readerArns` (`aws:PrincipalArn`),
   * however broad their IAM policies. Writing the value (`PutSecretValue`) stays with IAM, so an
   * operator can put the real secret. Secrets passed in are left alone: their policies are their
   * owner's.
   */
  restrictCreatedSecrets(readerArns: readonly string[]): void {
    for (const { secret, created } of this.byClient.values()) {
      if (!created) continue;
      secret.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'OnlyTheBrokerReadsTheValue',
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: ['secretsmanager:GetSecretValue'],
          resources: ['*'],
          conditions: { ArnNotEquals: { 'aws:PrincipalArn': [...readerArns] } },
        }),
      );
    }
  }

  private createPlaceholder(clientName: string, authMethod: AuthMethod): secretsmanager.Secret {
    const what = secretContent(authMethod);
    const secret = new secretsmanager.Secret(this, `Client-${clientName}`, {
      description: `Token broker: ${what} of client "${clientName}". Created with a placeholder; put the real value.`,
      generateSecretString: { passwordLength: 32, excludePunctuation: true },
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SMG4',
      reason:
        'The value is a credential issued by the external authorization server, so only that server can rotate it; ' +
        'the operator puts the new value and the broker re-reads it after secretTtlMs.',
    });
    new CfnOutput(this, `PutSecretCommand-${clientName}`, putSecretCommand(clientName, authMethod, secret.secretArn));
    return secret;
  }

  private importSecret(clientName: string, secretId: string): secretsmanager.ISecret {
    const id = `Imported-${clientName}`;
    if (Token.isUnresolved(secretId) || !secretId.startsWith('arn:')) {
      return secretsmanager.Secret.fromSecretNameV2(this, id, secretId);
    }
    // A complete ARN ends with the 6-character suffix Secrets Manager appends to the name.
    const resourceName = Arn.split(secretId, ArnFormat.COLON_RESOURCE_NAME).resourceName ?? '';
    return /-[A-Za-z0-9]{6}$/.test(resourceName)
      ? secretsmanager.Secret.fromSecretCompleteArn(this, id, secretId)
      : secretsmanager.Secret.fromSecretPartialArn(this, id, secretId);
  }
}

function secretContent(authMethod: AuthMethod): string {
  if (isMutualTls(authMethod)) return 'client certificate and private key (JSON { "certificate", "privateKey" }, PEM)';
  return authMethod === 'private_key_jwt' ? 'PEM private key' : 'client secret';
}

/**
 * How to put the real value. A certificate and its key go into one JSON document, which `jq`
 * builds from the two PEM files with their line breaks escaped.
 */
function putSecretCommand(clientName: string, authMethod: AuthMethod, secretArn: string): CfnOutputProps {
  const put = (file: string) =>
    `aws secretsmanager put-secret-value --secret-id ${secretArn} --secret-string file://${file}`;
  if (!isMutualTls(authMethod)) {
    return {
      description: `Client "${clientName}" has a placeholder secret. Write its real ${secretContent(authMethod)} to a file and run this command.`,
      value: put(`${clientName}-secret.txt`),
    };
  }
  const json = `${clientName}-secret.json`;
  return {
    description: `Client "${clientName}" has a placeholder secret. With its certificate in ${clientName}.crt and its private key in ${clientName}.key (PEM), run this command.`,
    value:
      `jq -n --rawfile certificate ${clientName}.crt --rawfile privateKey ${clientName}.key '{$certificate, $privateKey}' > ${json}` +
      ` && ${put(json)} && rm ${json}`,
  };
}

/** The ARN the broker passes as `SecretId`: the complete ARN where known, else the partial one. */
export function secretIdOf(secret: secretsmanager.ISecret): string {
  return secret.secretFullArn ?? secret.secretArn;
}

/** The ARN to name in a policy: a partial ARN matches the random suffix and nothing more. */
function policyArnOf(secret: secretsmanager.ISecret): string {
  return secret.secretFullArn ?? `${secret.secretArn}-??????`;
}
