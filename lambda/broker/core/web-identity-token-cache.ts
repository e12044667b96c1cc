import type { WebIdentitySettings } from './config.ts';
import type { WebIdentityToken, WebIdentityTokenIssuer } from './web-identity-token-issuer.ts';

/** A token is reused for this fraction of its requested lifetime... */
const REUSE_FRACTION = 0.8;
/** ...and never closer to its expiry than this: the token request that carries it may take up to `deadlineMs` (25 s at most). */
const EXPIRY_MARGIN_MS = 60_000;

interface Entry {
  readonly token: Promise<WebIdentityToken>;
  /** Epoch ms until which the token is handed out again; unset while it is being fetched. */
  reuseUntil?: number;
}

/**
 * The web identity tokens (client assertions) of `aws_web_identity` clients, one per client:
 * fetched at first use, reused until 80% of the requested lifetime or 60 s before STS's
 * `Expiration`, whichever comes first, then fetched again. Concurrent requests of a client share
 * one fetch; a failed fetch is not remembered.
 */
export class WebIdentityTokenCache {
  readonly #issuer: WebIdentityTokenIssuer;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();

  constructor(issuer: WebIdentityTokenIssuer, options: { now?: () => number } = {}) {
    this.#issuer = issuer;
    this.#now = options.now ?? Date.now;
  }

  get(client: string, settings: WebIdentitySettings): Promise<WebIdentityToken> {
    const entry = this.#entries.get(client);
    if (entry && (entry.reuseUntil === undefined || this.#now() < entry.reuseUntil)) return entry.token;
    return this.#fetch(client, settings);
  }

  /**
   * A token other than `rejected`, which the authorization server refused: the one another request
   * fetched meanwhile, or a new one.
   */
  async replaceRejected(
    client: string,
    settings: WebIdentitySettings,
    rejected: WebIdentityToken,
  ): Promise<WebIdentityToken> {
    const entry = this.#entries.get(client);
    if (entry) {
      const current = await entry.token.catch(() => undefined);
      if (current && current.value !== rejected.value && this.#entries.get(client) === entry) return current;
    }
    if (this.#entries.get(client) !== entry) return this.get(client, settings);
    return this.#fetch(client, settings);
  }

  #fetch(client: string, settings: WebIdentitySettings): Promise<WebIdentityToken> {
    const requestedAt = this.#now();
    const token = this.#issuer.issue(client, settings);
    const entry: Entry = { token };
    this.#entries.set(client, entry);
    token.then(
      (issued) => {
        const expiresAt = issued.expiresAt ?? requestedAt + settings.durationSeconds * 1000;
        entry.reuseUntil = Math.min(
          requestedAt + settings.durationSeconds * 1000 * REUSE_FRACTION,
          expiresAt - EXPIRY_MARGIN_MS,
        );
      },
      () => {
        if (this.#entries.get(client) === entry) this.#entries.delete(client);
      },
    );
    return token;
  }
}
