import type { ClientConfig } from './config.ts';

/**
 * The core's port to an authorization server: one client-credentials token request. Adapters
 * (oauth4webapi today) implement it and map every failure into a `BrokerError`, with
 * `rejection: 'credentials_rejected'` when the server refused the client's credentials. `secret` is
 * the client secret, the private key (`private_key_jwt`) or the client assertion (`aws_web_identity`).
 */
export type TokenEndpoint = (
  client: ClientConfig,
  secret: string,
  scopes: readonly string[],
  options?: TokenRequestOptions,
) => Promise<TokenResponse>;

export interface TokenRequestOptions {
  /**
   * Whether the adapter may, when the server rejects the client's credentials, present the same
   * credentials once more in another encoding (`client_secret_basic` with `basicAuthEncoding`
   * auto). The core allows it on the first request of a refresh and not on the one after a secret
   * re-read, so that a rejected refresh makes at most 3 token requests.
   * @default true
   */
  readonly retryRejectedEncoding?: boolean;
  /** Time left for this request, retries included. @default the client's `deadlineMs` */
  readonly deadlineMs?: number;
}

/** A token must live longer than this to be served: the caller gets whole seconds left, at least 1. */
export const MIN_LIFETIME_SECONDS = 1;

/** A validated token response (RFC 6749 §5.1). */
export interface TokenResponse {
  readonly accessToken: string;
  readonly tokenType: 'Bearer';
  /**
   * Lifetime in seconds, as the server tells it: its `expires_in`, but no longer than the time left
   * until the `exp` of an access token that is a JWT (an adapter refuses a JWT whose `exp` is
   * {@link MIN_LIFETIME_SECONDS} or less away); without either, the client's
   * `defaultExpiresInSeconds`. May be fractional, or too short or too long to believe: the core
   * bounds it.
   */
  readonly expiresInSeconds: number;
  /** Granted scopes: the response's `scope`, or the requested ones when the server omits it (RFC 6749 §5.1). */
  readonly scope: string;
}
