import * as oauth from 'oauth4webapi';
import {
  parseRateLimitReset,
  parseRetryAfter,
  type RetryClock,
  type RetryDecision,
  systemRetryClock,
  withRetries,
} from '../../shared/retry.ts';
import { type BasicAuthEncoding, type ClientConfig, isMutualTls } from '../core/config.ts';
import { BrokerError } from '../core/errors.ts';
import { ECHO_LIMIT } from '../core/quote-input.ts';
import { DEFAULT_COOLDOWNS } from '../core/refresh-failure.ts';
import { MIN_LIFETIME_SECONDS, type TokenEndpoint, type TokenResponse } from '../core/token-endpoint.ts';
import { boundedFetch, ResponseTooLargeError } from './bounded-fetch.ts';
import { type ClientAuthentication, clientAuthentications } from './client-authentication.ts';
import { jwtSecondsLeft } from './jwt-lifetime.ts';
import { ClientCertificateRefusedError, type MutualTlsOptions } from './mutual-tls-fetch.ts';
import { confirmationMethodsOf } from './token-binding.ts';
import { tolerantTokenResponse } from './tolerant-token-response.ts';

/** What the token endpoint adapter tells the outside world (never a credential). */
export interface TokenEndpointTelemetry {
  /** The server accepted a client's `client_secret_basic` credentials in `encoding`: tried first from now on. */
  basicAuthEncodingLearned(client: string, encoding: BasicAuthEncoding): void;
}

export interface OAuthTokenEndpointDeps extends RetryClock {
  /** Every client's token requests, except those of the mutual TLS clients: they have their own. */
  readonly fetch: typeof fetch;
  /** @default none */
  readonly telemetry?: TokenEndpointTelemetry;
  /** TLS settings of the mutual TLS clients' connections. @default Node's */
  readonly mutualTls?: MutualTlsOptions;
}

export const systemTokenEndpointDeps: OAuthTokenEndpointDeps = {
  ...systemRetryClock,
  fetch: (...args) => fetch(...args),
};

/**
 * The {@link TokenEndpoint} port over oauth4webapi. Client authentication is built once per
 * client and secret version (a `private_key_jwt` key is imported once, not for every token).
 *
 * `client_secret_basic` with `basicAuthEncoding` auto: when the server rejects the client and the
 * plain encoding of its credentials differs from the form one, the same credentials go once more
 * in the other encoding (unless the request says not to); the one accepted is remembered per
 * client and tried first from then on.
 *
 * A mutual TLS client (RFC 8705 §2) gets its own fetch, with a TLS agent holding its certificate,
 * built with its client authentication: once per secret version, so a rotated certificate gets a
 * new agent. It is used for that client's token endpoint only; `deps.fetch` never sees a
 * certificate.
 */
export function createOAuthTokenEndpoint(deps: OAuthTokenEndpointDeps = systemTokenEndpointDeps): TokenEndpoint {
  const bounded = { ...deps, fetch: boundedFetch(deps.fetch) };
  const auths = new Map<string, { readonly secret: string; readonly auth: Promise<readonly ClientAuthentication[]> }>();
  const learned = new Map<string, BasicAuthEncoding>();
  const authFor = (client: ClientConfig, secret: string): Promise<readonly ClientAuthentication[]> => {
    const known = auths.get(client.name);
    if (known?.secret === secret) return known.auth;
    const auth = clientAuthentications(client, secret, deps.mutualTls);
    auths.set(client.name, { secret, auth });
    auth.catch(() => {
      if (auths.get(client.name)?.auth === auth) auths.delete(client.name);
    });
    return auth;
  };
  const learn = (client: ClientConfig, encoding: BasicAuthEncoding): void => {
    if (learned.get(client.name) === encoding) return;
    learned.set(client.name, encoding);
    deps.telemetry?.basicAuthEncodingLearned(client.name, encoding);
  };

  return async (client, secret, scopes, options = {}) => {
    const deadlineAt = deps.now() + (options.deadlineMs ?? client.deadlineMs);
    const candidates = preferring(await authFor(client, secret), learned.get(client.name));
    const tried = options.retryRejectedEncoding === false ? candidates.slice(0, 1) : candidates;
    let rejection: unknown;
    for (const { auth, encoding, fetch: ownFetch } of tried) {
      if (rejection !== undefined && deps.now() >= deadlineAt) break;
      const via = ownFetch === undefined ? bounded : { ...bounded, fetch: boundedFetch(ownFetch) };
      try {
        const token = await requestClientCredentialsToken(client, secret, auth, scopes, via, deadlineAt - deps.now());
        if (encoding !== undefined && candidates.length > 1) learn(client, encoding);
        return token;
      } catch (error) {
        if (!(error instanceof BrokerError && error.rejection === 'credentials_rejected')) throw error;
        rejection = error;
      }
    }
    throw rejection;
  };
}

/** The encoding that worked before goes first. */
function preferring(
  candidates: readonly ClientAuthentication[],
  encoding: BasicAuthEncoding | undefined,
): readonly ClientAuthentication[] {
  const known = candidates.find((c) => c.encoding === encoding);
  return known ? [known, ...candidates.filter((c) => c !== known)] : candidates;
}

/** How descriptions name the server: by the client, whose configuration says which server it is. */
function serverOf(client: string): string {
  return `The authorization server of client ${client}`;
}

function credentialsRejected(clientName: string, detail: string): BrokerError {
  return new BrokerError(
    'upstream_rejected',
    `The authorization server rejected the credentials of client ${clientName} (${detail})`,
    { rejection: 'credentials_rejected' },
  );
}

/**
 * Client Credentials Grant (RFC 6749 §4.4) with oauth4webapi: one request, retried with backoff on
 * network errors (also while the body streams in), timeouts, 5xx and 429 (honouring
 * `Retry-After`), inside the deadline. Only `token_type` Bearer is accepted (RFC 6749 §7.1, RFC 6750),
 * and not a token bound to a key (RFC 8705 §3);
 * bodies over 1 MiB (`MAX_TOKEN_RESPONSE_BYTES`) are refused unread. A successful body loses its
 * `null` members and other needless ones first ({@link tolerantTokenResponse}).
 *
 * Errors are BrokerErrors built from sanitized facts (status, OAuth `error` code): oauth4webapi's
 * own errors can hold the response body, which on success holds the access token, so they are
 * never attached as `cause`. `secret` is only for keeping it out of them.
 */
async function requestClientCredentialsToken(
  client: ClientConfig,
  secret: string,
  auth: oauth.ClientAuth,
  scopes: readonly string[],
  deps: OAuthTokenEndpointDeps,
  deadlineMs: number,
): Promise<TokenResponse> {
  const as: oauth.AuthorizationServer = {
    issuer: client.issuer,
    token_endpoint: client.tokenEndpoint.href,
    ...(client.mtlsTokenEndpoint ? { mtls_endpoint_aliases: { token_endpoint: client.mtlsTokenEndpoint.href } } : {}),
  };
  const oauthClient: oauth.Client = {
    client_id: client.clientId,
    ...(isMutualTls(client.authMethod) ? { use_mtls_endpoint_aliases: true } : {}),
  };
  const parameters = tokenRequestParameters(client, scopes);

  const attempt = async (remainingMs: number): Promise<TokenResponse> => {
    const response = await oauth.clientCredentialsGrantRequest(as, oauthClient, auth, parameters, {
      signal: AbortSignal.timeout(Math.max(1, Math.min(client.attemptTimeoutMs, remainingMs))),
      [oauth.customFetch]: deps.fetch,
      [oauth.allowInsecureRequests]: client.tokenEndpoint.protocol === 'http:',
    });
    const result = await oauth.processClientCredentialsResponse(as, oauthClient, tolerantTokenResponse(response));
    // oauth4webapi accepts `dpop` too (lowercased), but the broker hands tokens out as Bearer.
    if (result.token_type !== 'bearer') throw unsupportedTokenType(client.name, result.token_type);
    const confirmation = confirmationMethodsOf(result.access_token);
    if (confirmation) throw boundToken(client.name, confirmation);
    // A JWT outlives its exp nowhere: an expires_in in milliseconds by mistake must not make it.
    const jwtLeft = jwtSecondsLeft(result.access_token, deps.now());
    if (jwtLeft !== undefined && jwtLeft <= MIN_LIFETIME_SECONDS) throw expiredToken(client.name, jwtLeft);
    return {
      accessToken: result.access_token,
      tokenType: 'Bearer',
      expiresInSeconds: Math.min(
        validLifetime(result.expires_in) ?? jwtLeft ?? client.defaultExpiresInSeconds,
        jwtLeft ?? Number.POSITIVE_INFINITY,
      ),
      scope: result.scope ?? scopes.join(' '),
    };
  };

  try {
    const policy = { maxRetries: client.maxRetries, deadlineMs };
    return await withRetries(attempt, (error) => classifyFailure(error, deps.now), policy, deps);
  } catch (error) {
    throw toUpstreamError(error, client, secret, deps.now);
  }
}

function tokenRequestParameters(client: ClientConfig, scopes: readonly string[]): URLSearchParams {
  const parameters = new URLSearchParams(client.extraParams);
  if (scopes.length > 0) parameters.set('scope', scopes.join(' '));
  if (client.audience !== undefined) parameters.set('audience', client.audience);
  for (const resource of client.resource) parameters.append('resource', resource);
  return parameters;
}

/** A zero or negative lifetime is as good as none: the token's own `exp` or the client's default applies. */
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
  const { name, code } = (error ?? {}) as { name?: string; code?: unknown };
  // fetch() rejects with a plain TypeError on network errors (oauth4webapi's own TypeErrors carry a
  // `code`: those are bugs, not transport failures); AbortSignal.timeout with TimeoutError (a
  // DOMException, whose numeric `code` is legacy).
  return (name === 'TypeError' && code === undefined) || name === 'TimeoutError' || name === 'AbortError';
}

/**
 * A failure while the body was read (connection reset, a body that stalls past the attempt's
 * timeout, the size limit) reaches us wrapped in oauth4webapi's parse error: unwrap it, so it is
 * judged as what it is, not as an invalid response.
 */
function underlyingFailure(error: unknown): unknown {
  if (!(error instanceof oauth.OperationProcessingError)) return error;
  const cause = error.cause;
  return isTransportFailure(cause) || cause instanceof ResponseTooLargeError ? cause : error;
}

/**
 * Node's codes for a server certificate that does not verify (OpenSSL's X509_V_ERR names, and
 * Node's own for another host's name): untrusted issuer, expired, revoked... Trying again soon
 * meets the same certificate.
 */
const CERTIFICATE_NOT_TRUSTED =
  /^(?:UNABLE_TO_(?:GET_ISSUER|VERIFY_LEAF|DECRYPT_CERT)|SELF_SIGNED|DEPTH_ZERO|CERT_|INVALID_(?:CA|PURPOSE)|PATH_LENGTH|HOSTNAME_MISMATCH|ERR_TLS_CERT_ALTNAME)/;

/** The code when a transport failure is the server's certificate failing verification. */
function untrustedCertificateCode(error: unknown): string | undefined {
  const code = (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return typeof code === 'string' && CERTIFICATE_NOT_TRUSTED.test(code) ? code : undefined;
}

function classifyFailure(error: unknown, now: () => number): RetryDecision {
  const underlying = underlyingFailure(error);
  if (isTransportFailure(underlying)) return { retry: untrustedCertificateCode(underlying) === undefined };
  const status = httpStatusOf(error);
  if (status === 429 || (status !== undefined && status >= 500)) {
    const retryAfterMs = retryAfterMsOf(responseOf(error), now);
    return retryAfterMs === undefined ? { retry: true } : { retry: true, retryAfterMs };
  }
  return { retry: false };
}

/**
 * The wait the server asks for: its `Retry-After` or, on a 429 without one, its rate limit reset
 * (Okta, Auth0). No longer than the longest cool-down: callers are told it, and the fleet cache
 * would not remember a failure longer anyway.
 */
function retryAfterMsOf(response: Response | undefined, now: () => number): number | undefined {
  const headers = response?.headers;
  const asked =
    parseRetryAfter(headers?.get('retry-after'), now()) ??
    (response?.status === 429
      ? parseRateLimitReset(headers?.get('x-rate-limit-reset') ?? headers?.get('x-ratelimit-reset'), now())
      : undefined);
  return asked === undefined ? undefined : Math.min(asked, DEFAULT_COOLDOWNS.maxMs);
}

function toUpstreamError(error: unknown, client: ClientConfig, secret: string, now: () => number): BrokerError {
  if (error instanceof BrokerError) return error;
  const name = client.name;
  const underlying = underlyingFailure(error);
  if (isTransportFailure(underlying)) {
    const untrusted = untrustedCertificateCode(underlying);
    if (untrusted !== undefined) {
      return new BrokerError(
        'upstream_unavailable',
        `${serverOf(name)} presented an untrusted TLS certificate (${untrusted}); a private CA needs trustedCaCertificates`,
        { cause: new Error(describeTransportFailure(underlying)), retryAfterSeconds: 5 },
      );
    }
    const whileReading = underlying !== error;
    const what =
      (underlying as Error).name !== 'TypeError'
        ? 'is not answering in time'
        : whileReading
          ? 'broke off its answer'
          : 'is unreachable';
    return new BrokerError('upstream_unavailable', `${serverOf(name)} ${what}`, {
      cause: new Error(describeTransportFailure(underlying)),
      retryAfterSeconds: 5,
    });
  }
  if (error instanceof ClientCertificateRefusedError) return credentialsRejected(name, `TLS alert ${error.alert}`);
  if (underlying instanceof ResponseTooLargeError) {
    return new BrokerError(
      'upstream_rejected',
      `${serverOf(name)} sent a response over the ${underlying.limitBytes}-byte limit`,
      { rejection: 'invalid_response' },
    );
  }
  const status = httpStatusOf(error);
  const body = error instanceof oauth.ResponseBodyError ? error : undefined;
  // RFC 6749 §5.2 keeps 401 for a failed client authentication, whatever the `error` says
  // (Keycloak answers a wrong secret with unauthorized_client, Auth0 with access_denied).
  if (status === 401 || body?.error === 'invalid_client' || (status === 403 && !body)) {
    return credentialsRejected(name, `${body ? `${errorCodeOf(body, secret)}, ` : ''}HTTP ${status}`);
  }
  if (status === 429 || (status !== undefined && status >= 500)) {
    const retryAfterMs = retryAfterMsOf(responseOf(error), now);
    return new BrokerError('upstream_unavailable', `${serverOf(name)} kept failing (HTTP ${status})`, {
      retryAfterSeconds: retryAfterMs === undefined ? 5 : Math.max(1, Math.ceil(retryAfterMs / 1000)),
    });
  }
  if (body) {
    return new BrokerError(
      'upstream_rejected',
      `The authorization server refused the token request of client ${name}: ${errorCodeOf(body, secret)} (HTTP ${status})`,
      { rejection: 'request_rejected' },
    );
  }
  if (status !== undefined) {
    return new BrokerError('upstream_rejected', `${serverOf(name)} answered HTTP ${status}`, {
      rejection: 'request_rejected',
    });
  }
  if (error instanceof oauth.UnsupportedOperationError) {
    const body = (error.cause as { body?: { token_type?: unknown } } | undefined)?.body;
    return unsupportedTokenType(name, body?.token_type);
  }
  if (error instanceof oauth.OperationProcessingError) {
    return new BrokerError(
      'upstream_rejected',
      `${serverOf(name)} sent an invalid token response (${error.code ?? 'invalid'})`,
      { rejection: 'invalid_response' },
    );
  }
  return new BrokerError('internal_error', `The token request of client ${name} failed unexpectedly`, {
    cause: new Error((error as Error | undefined)?.name ?? 'Error'),
  });
}

/**
 * The OAuth `error` of a refusal, repeated only when it is an error code (RFC 6749 §5.2:
 * `1*( %x20-21 / %x23-5B / %x5D-7E )`) of at most {@link ECHO_LIMIT} characters without the secret
 * in it: a server could put there the secret it received, a line break to forge log lines, or 900 KB.
 */
function errorCodeOf(error: oauth.ResponseBodyError, secret: string): string {
  const code = error.error;
  return code.length <= ECHO_LIMIT && /^[\x20\x21\x23-\x5B\x5D-\x7E]+$/.test(code) && !code.includes(secret)
    ? code
    : 'an invalid error code';
}

/**
 * Names the type when it looks like one (`DPoP`, `N_A`, `mac`...): a server that put something
 * else there (its token, say) must not get it into a log line.
 */
function unsupportedTokenType(clientName: string, tokenType: unknown): BrokerError {
  const named =
    typeof tokenType === 'string' && /^[A-Za-z][\w.-]{0,19}$/.test(tokenType)
      ? `"${tokenType}"`
      : 'an unrecognizable one';
  return new BrokerError('upstream_rejected', `${serverOf(clientName)} issued a token of type ${named}, not Bearer`, {
    rejection: 'invalid_response',
  });
}

/**
 * A token bound to a key (RFC 7800 `cnf`) can be used only with proof of that key, which the
 * broker's callers never hold: served, it would be refused by every resource server.
 */
function boundToken(clientName: string, confirmation: readonly string[]): BrokerError {
  const fix = confirmation.includes('x5t#S256')
    ? 'Turn off certificate-bound access tokens for this client at the authorization server ' +
      '(RFC 8705 §3; client metadata tls_client_certificate_bound_access_tokens: false)'
    : 'Configure the authorization server to issue this client Bearer tokens not bound to a key';
  return new BrokerError(
    'upstream_rejected',
    `${serverOf(clientName)} issued an access token bound to a key (cnf ${confirmation.join(', ')}): ` +
      `only a holder of that key can use it, and the broker's callers do not hold it. ${fix}`,
    { rejection: 'invalid_response' },
  );
}

/** A token whose JWT `exp` has passed, or is too close to serve it. */
function expiredToken(clientName: string, secondsLeft: number): BrokerError {
  const when =
    secondsLeft > 0 ? `expires within ${MIN_LIFETIME_SECONDS} s` : `expired ${Math.round(-secondsLeft)} s ago`;
  return new BrokerError(
    'upstream_rejected',
    `${serverOf(clientName)} issued an access token that ${when} by its exp claim`,
    { rejection: 'invalid_response' },
  );
}

/** Network error codes (ECONNREFUSED, ENOTFOUND...) help operators; messages of the fetch cause are enough. */
function describeTransportFailure(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause;
  return `${(error as Error).name}${cause?.code ? ` ${cause.code}` : ''}`;
}
