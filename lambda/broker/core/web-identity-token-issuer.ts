import type { WebIdentitySettings } from './config.ts';

/** A JWT that AWS STS signed for the broker's role: the client assertion of an `aws_web_identity` client. */
export interface WebIdentityToken {
  readonly value: string;
  /** Epoch milliseconds, as STS reports it (`Expiration`). @default unknown: requested time + `durationSeconds` */
  readonly expiresAt?: number;
}

/**
 * The core's port to AWS STS `GetWebIdentityToken` (outbound identity federation). Adapters map
 * every failure into a `BrokerError`: `secret_store_unavailable` for a service that cannot be
 * reached or is throttled, `upstream_rejected` when the account has outbound federation disabled.
 */
export interface WebIdentityTokenIssuer {
  /** A new token for `client`, with its settings' audience, algorithm and lifetime. */
  issue(client: string, settings: WebIdentitySettings): Promise<WebIdentityToken>;
}
