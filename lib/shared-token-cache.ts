import { Duration, Names, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct, type IConstruct } from 'constructs';
import { CACHE_ENCRYPTION_CONTEXT, CACHE_TABLE, ENV } from '../lambda/shared/contract.ts';
import { principalArnOf } from './token-access.ts';

/** A namespace is an environment variable value, part of item keys and a KMS encryption-context value. */
export const CACHE_NAMESPACE_MAX_LENGTH = 64;
export const CACHE_NAMESPACE_SYNTAX = new RegExp(`^[A-Za-z0-9_.-]{1,${CACHE_NAMESPACE_MAX_LENGTH}}$`);

/**
 * The calls the broker's DynamoDB store makes, and no others: reads are strongly consistent
 * `GetItem`s, every write (lease, commit, failure, touch) is a conditional `UpdateItem`, and the
 * warm-up lists recently served keys with a filtered `Scan`.
 */
const TABLE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:Scan'];
/** Envelope encryption: a data key per token written, decrypted when read. */
const KEY_ACTIONS = ['kms:GenerateDataKey', 'kms:Decrypt'];
/**
 * What the account's IAM policies may do with a key the construct creates: manage it, not use it.
 * Neither `kms:CreateGrant` nor any cryptographic action: only the key policy names who encrypts
 * and decrypts. `kms:PutKeyPolicy` stays, so the account cannot lock itself out of its own key.
 */
const KEY_ADMIN_ACTIONS = [
  'kms:Describe*',
  'kms:Get*',
  'kms:List*',
  'kms:Enable*',
  'kms:Disable*',
  'kms:Put*',
  'kms:Update*',
  'kms:Revoke*',
  'kms:Delete*',
  'kms:CreateAlias',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:RotateKeyOnDemand',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
];

export interface SharedTokenCacheProps {
  /**
   * A table with partition key `pk` (string) and TTL attribute `ttl` (see `CACHE_TABLE` in the
   * runtime contract), possibly shared with other brokers under other namespaces.
   * @default - a new table (on-demand, TTL on, deleted with the stack)
   */
  readonly table?: dynamodb.ITable;
  /**
   * The KMS key that encrypts the cached tokens. Its key policy must let IAM policies of this
   * account grant its use (the default key policy does).
   * @default - a new customer managed key with automatic rotation, whose key policy lets the
   * account administer it and only the principals given to `grantKeyUse` use it
   */
  readonly key?: kms.IKey;
  /** Separates this broker's items and ciphertexts from other brokers' in the same table and key. */
  readonly namespace: string;
}

/**
 * The fleet-wide token cache's resources: a DynamoDB table of encrypted tokens, the KMS key that
 * encrypts them, and the namespace that scopes one broker's items and its use of the key.
 */
export class SharedTokenCache extends Construct {
  readonly table: dynamodb.ITable;
  readonly key: kms.IKey;
  readonly namespace: string;
  private readonly createdKey?: kms.Key;

  constructor(scope: Construct, id: string, props: SharedTokenCacheProps) {
    super(scope, id);
    this.namespace = props.namespace;
    this.table = props.table ?? this.createTable();
    this.createdKey = props.key ? undefined : this.createKey();
    this.key = props.key ?? (this.createdKey as kms.Key);
  }

  /**
   * `dynamodb:GetItem`, `dynamodb:UpdateItem` and `dynamodb:Scan` on exactly the table. Not
   * `table.grantReadWriteData`, which adds `BatchWriteItem`, `DeleteItem`, `PutItem`, `Query` and
   * the table's indexes.
   */
  grantTableAccess(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: TABLE_ACTIONS, resourceArns: [this.table.tableArn] });
  }

  /**
   * `kms:GenerateDataKey` and `kms:Decrypt` on exactly the key, and only with this namespace in
   * the encryption context: a broker cannot decrypt another namespace's tokens even where it
   * shares the table and the key.
   */
  grantKeyUse(grantee: iam.IGrantable): iam.Grant {
    const options = {
      grantee,
      actions: KEY_ACTIONS,
      resourceArns: [this.key.keyArn],
      conditions: {
        StringEquals: { [`kms:EncryptionContext:${CACHE_ENCRYPTION_CONTEXT.namespaceKey}`]: this.namespace },
      },
    };
    // A key the construct created admits only the grantee to its use: its key policy names the
    // grantee's ARN in a condition, not as the principal. KMS checks that a principal exists when
    // the policy is set, and a role created in the same deployment may not be visible to it yet
    // (MalformedPolicyDocumentException, which CloudFormation does not retry).
    this.createdKey?.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.AccountRootPrincipal()],
        actions: KEY_ACTIONS,
        resources: ['*'],
        conditions: {
          ...options.conditions,
          ArnEquals: { 'aws:PrincipalArn': principalArnOf(grantee, this, 'grantKeyUse') },
        },
      }),
    );
    return iam.Grant.addToPrincipal(options);
  }

  /**
   * Lets `role` decrypt the cached tokens in an emergency, through the key policy of a key the
   * construct created (a key passed in is its owner's to open). Does nothing for a passed-in key.
   */
  allowBreakGlass(role: iam.IRole): void {
    this.createdKey?.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'BreakGlassDecrypt',
        principals: [new iam.ArnPrincipal(role.roleArn)],
        actions: ['kms:Decrypt'],
        resources: ['*'],
      }),
    );
  }

  /** Sets the cache's environment variables on the broker function and grants it the table and the key. */
  configureBroker(fn: lambda.Function): iam.Grant {
    fn.addEnvironment(ENV.tokenCacheTable, this.table.tableName);
    fn.addEnvironment(ENV.tokenCacheKeyId, this.key.keyArn);
    fn.addEnvironment(ENV.tokenCacheNamespace, this.namespace);
    return this.grantTableAccess(fn).combine(this.grantKeyUse(fn));
  }

  private createKey(): kms.Key {
    return new kms.Key(this, 'Key', {
      description: 'Token broker: encrypts the access tokens in the fleet token cache',
      enableKeyRotation: true,
      // Everything it encrypted is a cached token that expires within hours.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
      policy: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'AccountAdministersTheKeyButCannotUseIt',
            principals: [new iam.AccountRootPrincipal()],
            actions: KEY_ADMIN_ACTIONS,
            resources: ['*'],
          }),
        ],
      }),
    });
  }

  private createTable(): dynamodb.Table {
    const table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: CACHE_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: CACHE_TABLE.ttlAttribute,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      // The tokens are also envelope-encrypted with the cache's key; this covers the rest of the item.
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      // A cache: losing it costs one token request per key, so neither backups nor retention.
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: false },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(table).acknowledge({
      id: 'AwsSolutions::AwsSolutions-DDB3',
      reason:
        'The table is a cache of access tokens that expire within hours; a lost item costs one token request, ' +
        'and a restored one would hold only expired or soon-expiring tokens.',
    });
    return table;
  }
}

/**
 * The namespace of a broker that is given none: its top-level stack's name and its path in the
 * stack, readable and hashed, at most {@link CACHE_NAMESPACE_MAX_LENGTH} characters. Stable across
 * deploys, and distinct per broker, since a stack name is unique in its account and region.
 */
export function defaultCacheNamespace(broker: IConstruct): string {
  return Names.uniqueResourceName(broker, { maxLength: CACHE_NAMESPACE_MAX_LENGTH, separator: '-' });
}
