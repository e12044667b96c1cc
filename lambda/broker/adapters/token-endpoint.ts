import * as oauth from 'oauth4webapi';
import type { ClientConfig } from '../core/config.ts';
import { BrokerError } from '../core/errors.ts';
import { type RetryDecision, type RetryDeps, realRetryDeps, withRetries } from '../retry.ts';
import { importClientPrivateKey } from './private-key.ts';

/** A validated token response (RFC 6749 §5.1). */
export interface TokenResponse {
  readonly accessToken: string;
  readonly tokenType: 'Bearer';
  /** Lifetime in seconds: the server's `expires_in`, or the client's `defaultExpiresInSeconds`. */
  readonly expiresInSeconds: number;
  /** Granted scopes: the response's `scope`, or the requested ones when the server omits it (RFC 6749 §5.1). */
  readonly scope: string;
}

/**
 * The authorization server refused the client's credentials (`invalid_client`, or a 401/403
 * without an OAuth error body). The broker reacts by looking for a rotated secret.
 */
export class CredentialsRejectedError extends BrokerError {
  constructor(clientName: string, detail: string) {
    super('upstream_rejected', `The authorization server rejected the credentials of client ${clientName} (${detail})`);
  }
}

export interface TokenEndpointDeps extends RetryDeps {
  readonly fetch: typeof fetch;
}

export const realTokenEndpointDeps: TokenEndpointDeps = { ...realRetryDeps, fetch: (...args) => fetch(...args) };

/**
 * Client Credentials Grant (RFC 6749 §4.4) with oauth4webapi: one request, retried with backoff on
 * network errors, timeouts, 5xx and 429 (honouring `Retry-After`), inside the client's deadline.
 *
 * Errors are BrokerErrors built from sanitized facts (status, OAuth `error` code): oauth4webapi's
 * own errors can hold the response body, which on success holds the access token, so they are
 * never attached as `cause`.
 */
export async function requestClientCredentialsToken(
  client: ClientConfig,
  secret: string,
  scopes: readonly string[],
  deps: TokenEndpointDeps = realTokenEndpointDeps,
): Promise<TokenResponse> {
  const as: oauth.AuthorizationServer = { issuer: client.issuer, token_endpoint: client.tokenEndpoint.href };
  const oauthClient: oauth.Client = { client_id: client.clientId };
  const auth = await clientAuthentication(client, secret);
  const parameters = tokenRequestParameters(client, scopes);

  const attempt = async (remainingMs: number): Promise<TokenResponse> => {
    const response = await oauth.clientCredentialsGrantRequest(as, oauthClient, auth, parameters, {
      signal: AbortSignal.timeout(Math.max(1, Math.min(client.attemptTimeoutMs, remainingMs))),
      [oauth.customFetch]: deps.fetch,
      [oauth.allowInsecureRequests]: client.tokenEndpoint.protocol === 'http:',
    });
    const result = await oauth.processClientCredentialsResponse(as, oauthClient, response);
    return {
      accessToken: result.access_token,
      tokenType: 'Bearer',
      expiresInSeconds: validLifetime(result.expires_in) ?? client.defaultExpiresInSeconds,
      scope: result.scope ?? scopes.join(' '),
    };
  };

  try {
    return await withRetries(attempt, (error) => classifyFailure(error, deps.now), client, deps);
  } catch (error) {
    throw toUpstreamError(error, client, deps.now);
  }
}

function tokenRequestParameters(client: ClientConfig, scopes: readonly string[]): URLSearchParams {
  const parameters = new URLSearchParams(client.extraParams);
  if (scopes.length > 0) parameters.set('scope', scopes.join(' '));
  if (client.audience !== undefined) parameters.set('audience', client.audience);
  for (const resource of client.resource) parameters.append('resource', resource);
  return parameters;
}

async function clientAuthentication(client: ClientConfig, secret: string): Promise<oauth.ClientAuth> {
  switch (client.authMethod) {
    case 'client_secret_post':
      return oauth.ClientSecretPost(secret);
    case 'client_secret_basic':
      return oauth.ClientSecretBasic(secret);
    case 'private_key_jwt':
      return oauth.PrivateKeyJwt(await importClientPrivateKey(secret, client.name));
  }
}

/** A zero or negative lifetime is as good as none: the client's default applies. */
function validLifetime(expiresIn: number | undefined): number | undefined {
  return expiresIn !== undefined && expiresIn > 0 ? expiresIn : undefined;
}

function httpStatusOf(error: unknown): number | undefined {
  if (error instanceof oauth.ResponseBodyError || error instanceof oauth.WWWAuthenticateChallengeError) {
    return error.status;
  }
  if (error instanceof oauth.OperationProcessingError && error.cause instanceof Response) return error.cause.status;
  return undefined;
}

function responseOf(error: unknown): Response | undefined {
  if (error instanceof oauth.ResponseBodyError || error instanceof oauth.WWWAuthenticateChallengeError) {
    return error.response;
  }
  if (error instanceof oauth.OperationProcessingError && error.cause instanceof Response) return error.cause;
  return undefined;
}

function isTransportFailure(error: unknown): boolean {
  const { name, code } = (error ?? {}) as { name?: string; code?: string };
  // fetch() rejects with a plain TypeError on network errors (oauth4webapi's own TypeErrors carry a
  // `code`: those are bugs, not transport failures); AbortSignal.timeout with TimeoutError.
  return (name === 'TypeError' && code === undefined) || name === 'TimeoutError' || name === 'AbortError';
}

function classifyFailure(error: unknown, now: () => number): RetryDecision {
  if (isTransportFailure(error)) return { retry: true };
  const status = httpStatusOf(error);
  if (status === 429 || (status !== undefined && status >= 500)) {
    const retryAfterMs = retryAfterMsOf(responseOf(error), now);
    return retryAfterMs === undefined ? { retry: true } : { retry: true, retryAfterMs };
  }
  return { retry: false };
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. */
function retryAfterMsOf(response: Response | undefined, now: () => number): number | undefined {
  const header = response?.headers.get('retry-after');
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now());
}

function toUpstreamError(error: unknown, client: ClientConfig, now: () => number): BrokerError {
  if (error instanceof BrokerError) return error;
  const name = client.name;
  if (isTransportFailure(error)) {
    const what = (error as Error).name === 'TypeError' ? 'unreachable' : 'not answering in time';
    return new BrokerError('upstream_unavailable', `The authorization server of client ${name} is ${what}`, {
      cause: new Error(describeTransportFailure(error)),
      retryAfterSeconds: 5,
    });
  }
  const status = httpStatusOf(error);
  if (error instanceof oauth.ResponseBodyError && error.error === 'invalid_client') {
    return new CredentialsRejectedError(name, `invalid_client, HTTP ${error.status}`);
  }
  if (status === 429 || (status !== undefined && status >= 500)) {
    const retryAfterMs = retryAfterMsOf(responseOf(error), now);
    return new BrokerError(
      'upstream_unavailable',
      `The authorization server of client ${name} kept failing (HTTP ${status})`,
      { retryAfterSeconds: retryAfterMs === undefined ? 5 : Math.max(1, Math.ceil(retryAfterMs / 1000)) },
    );
  }
  if (error instanceof oauth.ResponseBodyError) {
    return new BrokerError(
      'upstream_rejected',
      `The authorization server refused the token request of client ${name}: ${error.error} (HTTP ${error.status})`,
    );
  }
  if (status === 401 || status === 403) return new CredentialsRejectedError(name, `HTTP ${status}`);
  if (status !== undefined) {
    return new BrokerError('upstream_rejected', `The authorization server of client ${name} answered HTTP ${status}`);
  }
  if (error instanceof oauth.UnsupportedOperationError) {
    return new BrokerError(
      'upstream_rejected',
      `The authorization server of client ${name} issued an unsupported token_type`,
    );
  }
  if (error instanceof oauth.OperationProcessingError) {
    return new BrokerError(
      'upstream_rejected',
      `The authorization server of client ${name} sent an invalid token response (${error.code ?? 'invalid'})`,
    );
  }
  return new BrokerError('internal_error', `The token request of client ${name} failed unexpectedly`, {
    cause: new Error((error as Error | undefined)?.name ?? 'Error'),
  });
}

/** Network error codes (ECONNREFUSED, ENOTFOUND...) help operators; messages of the fetch cause are enough. */
function describeTransportFailure(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause;
  return `${(error as Error).name}${cause?.code ? ` ${cause.code}` : ''}`;
}
