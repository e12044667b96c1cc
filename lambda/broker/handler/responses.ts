import type { APIGatewayProxyResult } from 'aws-lambda';
import { BROKER_ERRORS, type BrokerErrorCode } from '../../shared/error-codes.ts';
import type { BrokerError } from '../core/errors.ts';
import type { IssuedToken } from '../core/token-broker.ts';

export interface TokenBody {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
  readonly expires_at: number;
  readonly scope: string;
}

export interface ErrorBody {
  readonly error: BrokerErrorCode;
  readonly error_description: string;
}

export interface BrokerReply {
  readonly statusCode: number;
  readonly body: TokenBody | ErrorBody;
  readonly retryAfterSeconds?: number;
}

export function tokenReply(token: IssuedToken): BrokerReply {
  return {
    statusCode: 200,
    body: {
      access_token: token.accessToken,
      token_type: token.tokenType,
      expires_in: token.expiresIn,
      expires_at: token.expiresAt,
      scope: token.scope,
    },
  };
}

/** `internal_error` never carries details: they may name secrets or infrastructure. */
export function errorReply(error: BrokerError): BrokerReply {
  const description = error.code === 'internal_error' ? 'The broker failed; see its logs' : error.description;
  const reply = {
    statusCode: BROKER_ERRORS[error.code].status as number,
    body: { error: error.code, error_description: description },
  };
  if (reply.statusCode !== 503) return reply;
  return { ...reply, retryAfterSeconds: error.retryAfterSeconds ?? 5 };
}

/** REST API proxy integration response. `no-store`: a token must not sit in any HTTP cache (RFC 6749 §5.1). */
export function toApiGatewayResult(reply: BrokerReply): APIGatewayProxyResult {
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
  };
  if (reply.retryAfterSeconds !== undefined) headers['Retry-After'] = String(reply.retryAfterSeconds);
  return { statusCode: reply.statusCode, headers, body: JSON.stringify(reply.body) };
}

/** Direct invocations get the same body, with the status inside it. */
export function toDirectResult(reply: BrokerReply): { statusCode: number } & (TokenBody | ErrorBody) {
  return { statusCode: reply.statusCode, ...reply.body };
}
