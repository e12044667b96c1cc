import { isBrokerErrorCode } from '../shared/error-codes.ts';
import { TokenBrokerError } from './errors.ts';
import type { BrokerResponse } from './token-transport.ts';

/** A token as the broker issued it. */
export interface BrokerToken {
  /** The bearer token. Never log it. */
  readonly accessToken: string;
  /** `Bearer`. */
  readonly tokenType: string;
  /** When the authorization server says the token expires (the broker's `expires_at`). */
  readonly expiresAt: Date;
  /** Granted scopes, space-separated (RFC 6749 §3.3). */
  readonly scope: string;
}

export interface ReceivedToken {
  readonly token: BrokerToken;
  /** Remaining lifetime when it was received (the broker's `expires_in`), in milliseconds. */
  readonly lifetimeMs: number;
}

/**
 * Turns the broker's answer into a token or a `TokenBrokerError`: the one place where statuses and
 * bodies get their meaning, for both transports.
 *
 * A body without the broker's `error` field came from API Gateway or Lambda in front of it:
 * a 403 there means IAM refused the signed request, 429 throttling, 5xx a failing broker.
 */
export function readBrokerResponse(response: BrokerResponse, receivedAtMs: number): ReceivedToken {
  const { status, body } = response;
  const options = { status, ...(response.retryAfterMs === undefined ? {} : { retryAfterMs: response.retryAfterMs }) };
  const fields = isObject(body) ? body : {};
  if (status === 200) return readToken(fields, receivedAtMs, status);

  if (isBrokerErrorCode(fields.error)) {
    const description = typeof fields.error_description === 'string' ? fields.error_description : fields.error;
    throw new TokenBrokerError(fields.error, description, options);
  }
  const message = gatewayMessage(fields);
  if (status === 403) throw new TokenBrokerError('access_denied', message ?? 'IAM refused the request', options);
  if (status === 429) throw new TokenBrokerError('throttled', message ?? 'Too many requests', options);
  if (status >= 500) {
    throw new TokenBrokerError('broker_unavailable', message ?? `The broker answered HTTP ${status}`, options);
  }
  throw new TokenBrokerError('unexpected_response', `HTTP ${status}${message ? `: ${message}` : ''}`, options);
}

function readToken(fields: Record<string, unknown>, receivedAtMs: number, status: number): ReceivedToken {
  const { access_token, token_type, expires_in, expires_at, scope } = fields;
  if (typeof access_token !== 'string' || access_token.length === 0 || typeof token_type !== 'string') {
    throw new TokenBrokerError('unexpected_response', 'The answer has no access_token or token_type', { status });
  }
  const expiresAtMs = isSeconds(expires_at)
    ? expires_at * 1000
    : isSeconds(expires_in)
      ? receivedAtMs + expires_in * 1000
      : undefined;
  if (expiresAtMs === undefined) {
    throw new TokenBrokerError('unexpected_response', 'The answer has neither expires_in nor expires_at', { status });
  }
  // The remaining lifetime comes from expires_in when there is one: a duration is immune to clock
  // skew between the caller and the broker, an absolute time is not.
  const lifetimeMs = isSeconds(expires_in) ? expires_in * 1000 : Math.max(0, expiresAtMs - receivedAtMs);
  return {
    token: {
      accessToken: access_token,
      tokenType: token_type,
      expiresAt: new Date(expiresAtMs),
      scope: typeof scope === 'string' ? scope : '',
    },
    lifetimeMs,
  };
}

/**
 * API Gateway's `message` (or `Message`), first line only and bounded. A signature-mismatch
 * message goes on to quote the canonical request, which includes `X-Amz-Security-Token`: that
 * part must never reach an error that gets logged.
 */
function gatewayMessage(fields: Record<string, unknown>): string | undefined {
  const raw = typeof fields.message === 'string' ? fields.message : fields.Message;
  if (typeof raw !== 'string' || raw.length === 0) return undefined;
  const firstLine = raw.split(/\r?\n/, 1)[0] ?? '';
  const beforeCanonical = firstLine.split('The Canonical String', 1)[0] ?? '';
  return beforeCanonical.trim().slice(0, 300);
}

function isSeconds(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
