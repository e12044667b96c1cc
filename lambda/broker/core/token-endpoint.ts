import type { ClientConfig } from './config.ts';

/**
 * The core's port to an authorization server: one client-credentials token request. Adapters
 * (oauth4webapi today) implement it and map every failure into a `BrokerError`, with
 * `rejection: 'credentials_rejected'` when the server refused the client's credentials.
 */
export type TokenEndpoint = (client: ClientConfig, secret: string, scopes: readonly string[]) => Promise<TokenResponse>;

/** A validated token response (RFC 6749 §5.1). */
export interface TokenResponse {
  readonly accessToken: string;
  readonly tokenType: 'Bearer';
  /** Lifetime in seconds: the server's `expires_in`, or the client's `defaultExpiresInSeconds`. */
  readonly expiresInSeconds: number;
  /** Granted scopes: the response's `scope`, or the requested ones when the server omits it (RFC 6749 §5.1). */
  readonly scope: string;
}
