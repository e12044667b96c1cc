import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent } from 'aws-lambda';
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

export function callerOfApiEvent(event: APIGatewayProxyEvent): Caller {
  const context = event.requestContext as Partial<APIGatewayProxyEvent['requestContext']> | undefined;
  const identity = context?.identity as Partial<APIGatewayProxyEvent['requestContext']['identity']> | undefined;
  return withoutEmpty({
    channel: 'api',
    principal: identity?.userArn ?? undefined,
    callerId: identity?.caller ?? undefined,
    account: identity?.accountId ?? undefined,
    sourceVpce: identity?.vpceId,
    apiRequestId: context?.requestId,
  });
}

/**
 * Writes the audit line of one token request with `logger`, which the composition root creates
 * at a fixed level: the audit does not depend on `POWERTOOLS_LOG_LEVEL`.
 */
export function writeAudit(logger: Logger, caller: Caller, client: string | undefined, result: AuditOutcome): void {
  logger.info(AUDIT.message, withoutEmpty({ [AUDIT.marker]: AUDIT.kind, ...caller, client, ...result }));
}

function withoutEmpty<T extends object>(fields: T): T {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined && v !== null && v !== '')) as T;
}
