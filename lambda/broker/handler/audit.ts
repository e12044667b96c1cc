import type { Logger } from '@aws-lambda-powertools/logger';
import { AUDIT } from '../../shared/contract.ts';
import type { BrokerErrorCode } from '../../shared/error-codes.ts';
import type { TokenSource } from '../core/token-cache.ts';

/**
 * Who asked for a token. Through the API, IAM authorization has identified the caller and API
 * Gateway says who it was (`requestContext.identity`). A direct invocation carries no identity:
 * CloudTrail's Lambda data events record who invoked the function.
 */
export interface Caller {
  readonly channel: 'api' | 'direct';
  /** The signer's ARN, e.g. `arn:aws:sts::123456789012:assumed-role/orders-fn/orders-fn`. */
  readonly principal?: string;
  /** Its principal id, e.g. `AROA...:orders-fn`. */
  readonly callerId?: string;
  readonly account?: string;
  /** The VPC endpoint the request came through (private APIs). */
  readonly sourceVpce?: string;
  /** API Gateway's request id, as in the access log. */
  readonly apiRequestId?: string;
  /** Lambda's request id of the invocation (`function_request_id` in the line, as Powertools names it). */
  readonly functionRequestId?: string;
}

export const DIRECT_CALLER: Caller = { channel: 'direct' };

/** What the audit says about one token request; never the token itself. */
export type AuditOutcome =
  | {
      readonly outcome: typeof AUDIT.outcome.served;
      readonly scope: string;
      readonly source: TokenSource;
      /** Epoch seconds. */
      readonly expiresAt: number;
      readonly expiresIn: number;
    }
  | {
      readonly outcome: typeof AUDIT.outcome.refused;
      readonly status: number;
      readonly error: BrokerErrorCode;
      /** The scopes asked for, when the request got that far; absent for the client's defaults. */
      readonly scope?: string;
    };

/**
 * The caller API Gateway identified. The event may be a direct invocation that only looks like
 * API Gateway's: only own string fields are taken, each cut to a length an ARN fits in.
 */
export function callerOfApiEvent(event: Readonly<Record<string, unknown>>): Caller {
  const context = ownRecord(event, 'requestContext');
  const identity = ownRecord(context, 'identity');
  return withoutEmpty({
    channel: 'api',
    principal: ownString(identity, 'userArn'),
    callerId: ownString(identity, 'caller'),
    account: ownString(identity, 'accountId'),
    sourceVpce: ownString(identity, 'vpceId'),
    apiRequestId: ownString(context, 'requestId'),
  });
}

/** Longest identity field the audit line repeats: an IAM ARN is at most 2048 characters. */
const MAX_IDENTITY_LENGTH = 2048;

function ownRecord(record: Readonly<Record<string, unknown>>, key: string): Readonly<Record<string, unknown>> {
  const value = Object.hasOwn(record, key) ? record[key] : undefined;
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Readonly<Record<string, unknown>>)
    : {};
}

function ownString(record: Readonly<Record<string, unknown>>, key: string): string | undefined {
  const value = Object.hasOwn(record, key) ? record[key] : undefined;
  return typeof value === 'string' ? value.slice(0, MAX_IDENTITY_LENGTH) : undefined;
}

/**
 * Writes the audit line of one token request with `logger`, which the composition root creates
 * at a fixed level: the audit does not depend on `POWERTOOLS_LOG_LEVEL`.
 */
export function writeAudit(logger: Logger, caller: Caller, client: string | undefined, result: AuditOutcome): void {
  const { functionRequestId, ...who } = caller;
  logger.info(
    AUDIT.message,
    withoutEmpty({ [AUDIT.marker]: AUDIT.kind, ...who, client, ...result, function_request_id: functionRequestId }),
  );
}

function withoutEmpty<T extends object>(fields: T): T {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined && v !== null && v !== '')) as T;
}
