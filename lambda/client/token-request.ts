import { MIN_TTL } from '../shared/contract.ts';
import { CLIENT_NAME_PATTERN, normalizeScopes, SCOPE_TOKEN_PATTERN } from '../shared/oauth-syntax.ts';
import { TokenBrokerError } from './errors.ts';
import type { TokenRequest } from './token-transport.ts';

/**
 * Checks a request before anything is sent, so a typo fails fast and no caller input ever
 * reaches the URL path unchecked. Scopes come back sorted and de-duplicated: the same set in any
 * order is one cache entry and one request.
 */
export function normalizeTokenRequest(request: TokenRequest): TokenRequest {
  if (typeof request.client !== 'string' || !CLIENT_NAME_PATTERN.test(request.client)) {
    throw new TokenBrokerError('invalid_request', 'client must match [a-z0-9-]{1,64}');
  }
  const { minTtlSeconds } = request;
  if (
    minTtlSeconds !== undefined &&
    (!Number.isInteger(minTtlSeconds) || minTtlSeconds < 0 || minTtlSeconds > MIN_TTL.maxSeconds)
  ) {
    throw new TokenBrokerError(
      'invalid_request',
      `minTtlSeconds must be a whole number from 0 to ${MIN_TTL.maxSeconds}`,
    );
  }
  const freshness = minTtlSeconds ? { minTtlSeconds } : {};
  // An empty list asks for nothing in particular, like no list: the client's default scopes.
  if (request.scopes === undefined || request.scopes.length === 0) return { client: request.client, ...freshness };
  for (const scope of request.scopes) {
    if (typeof scope !== 'string' || !SCOPE_TOKEN_PATTERN.test(scope)) {
      throw new TokenBrokerError('invalid_request', 'each scope must be an RFC 6749 §3.3 scope-token');
    }
  }
  return { client: request.client, scopes: normalizeScopes(request.scopes), ...freshness };
}

/** Cache key of a normalized request: the client and its scope set (or the default set); freshness is not identity. */
export function cacheKey(request: TokenRequest): string {
  return JSON.stringify([request.client, request.scopes ?? null]);
}
