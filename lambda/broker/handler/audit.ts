import { getXRayTraceIdFromEnv } from '@aws-lambda-powertools/commons/utils/env';
import { AUDIT, SERVICE_NAME } from '../../shared/contract.ts';
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
  readonly principal?: string | undefined;
  /** Its principal id, e.g. `AROA...:orders-fn`. */
  readonly callerId?: string | undefined;
  readonly account?: string | undefined;
  /** The VPC endpoint the request came through (private APIs). */
  readonly sourceVpce?: string | undefined;
  /** API Gateway's request id, as in the access log. */
  readonly apiRequestId?: string | undefined;
  /** Lambda's request id of the invocation (`function_request_id` in the line, as Powertools names it). */
  readonly functionRequestId?: string | undefined;
}

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

/** Writes the audit line of one token request. */
export type AuditLog = (caller: Caller, client: string | undefined, result: AuditOutcome) => void;

export interface AuditLogOptions {
  /** The line's `service`. @default `SERVICE_NAME` */
  readonly service?: string;
  /** Receives each line, newline included. @default `process.stdout.write`, looked up per line */
  readonly write?: (line: string) => void;
  /** Epoch milliseconds. @default Date.now */
  readonly now?: () => number;
  /**
   * The invocation's X-Ray trace id. @default Powertools' reading of it (Lambda's invoke store,
   * else `_X_AMZN_TRACE_ID`), as its log lines carry it
   */
  readonly traceId?: () => string | undefined;
}

/**
 * The audit trail: one JSON line per token request, served or refused, straight to standard
 * output. It is not a Powertools log call, for two reasons: no log level may silence it
 * (`POWERTOOLS_LOG_LEVEL=ERROR` leaves it on), and on a cache hit it is the one line written, so
 * its cost is most of the hit's (`npm run bench:handler`). The line has the keys a Powertools line
 * has (`level`, `message`, `timestamp`, `service`, `function_request_id`, `xray_trace_id`), so the
 * same Logs Insights queries read both. Fields without a value are left out (JSON.stringify drops
 * `undefined`).
 */
export function createAuditLog({
  service = SERVICE_NAME,
  write,
  now = Date.now,
  traceId = getXRayTraceIdFromEnv,
}: AuditLogOptions = {}): AuditLog {
  const writeLine = write ?? ((line: string) => process.stdout.write(line));
  return (caller, client, result) => {
    const line = {
      level: 'INFO',
      message: AUDIT.message,
      timestamp: new Date(now()).toISOString(),
      service,
      [AUDIT.marker]: AUDIT.kind,
      channel: caller.channel,
      principal: caller.principal,
      callerId: caller.callerId,
      account: caller.account,
      sourceVpce: caller.sourceVpce,
      apiRequestId: caller.apiRequestId,
      client,
      ...result,
      function_request_id: caller.functionRequestId,
      xray_trace_id: traceId(),
    };
    writeLine(`${JSON.stringify(line)}\n`);
  };
}

/** A direct invocation: no identity in the event. */
export function directCaller(functionRequestId: string | undefined): Caller {
  return { channel: 'direct', functionRequestId };
}

/**
 * The caller API Gateway identified. The event may be a direct invocation that only looks like
 * API Gateway's: only own string fields are taken, each cut to a length an ARN fits in.
 */
export function callerOfApiEvent(
  event: Readonly<Record<string, unknown>>,
  functionRequestId: string | undefined,
): Caller {
  const context = ownRecord(event, 'requestContext');
  const identity = ownRecord(context, 'identity');
  return {
    channel: 'api',
    principal: ownString(identity, 'userArn'),
    callerId: ownString(identity, 'caller'),
    account: ownString(identity, 'accountId'),
    sourceVpce: ownString(identity, 'vpceId'),
    apiRequestId: ownString(context, 'requestId'),
    functionRequestId,
  };
}

/** Longest identity field the audit line repeats: an IAM ARN is at most 2048 characters. */
const MAX_IDENTITY_LENGTH = 2048;

const NO_FIELDS: Readonly<Record<string, unknown>> = Object.freeze({});

function ownRecord(record: Readonly<Record<string, unknown>>, key: string): Readonly<Record<string, unknown>> {
  const value = Object.hasOwn(record, key) ? record[key] : undefined;
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Readonly<Record<string, unknown>>)
    : NO_FIELDS;
}

/** A non-empty own string field, bounded; anything else reads as absent. */
function ownString(record: Readonly<Record<string, unknown>>, key: string): string | undefined {
  const value = Object.hasOwn(record, key) ? record[key] : undefined;
  return typeof value === 'string' && value.length > 0 ? value.slice(0, MAX_IDENTITY_LENGTH) : undefined;
}
