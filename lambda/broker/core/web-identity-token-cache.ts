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
  /** How many token requests it was handed to. */
  uses: number;
}

/**
 * The web identity tokens (client assertions) of `aws_web_identity` clients, one per client:
 * fetched at first use, reused until 80% of the requested lifetime or 60 s before STS's
 * `Expiration`, whichever comes first, then fetched again. Concurrent requests of a client share
 * one fetch; a failed fetch is not remembered.
 *
 * An authorization server may accept each assertion once (RFC 7523 §3 lets it refuse a replayed
 * `jti`; Keycloak does unless told otherwise). When a reused assertion is refused and a fresh one
 * is then accepted ({@link acceptedReplacement}), the client's assertions are single-use from then
 * on: each token request gets a new one, rather than a refused request and a new one.
 */
export class WebIdentityTokenCache {
  readonly #issuer: WebIdentityTokenIssuer;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  /** Clients whose server accepts an assertion once. */
  readonly #singleUse = new Set<string>();
  /** Clients whose last refused assertion had been presented before. */
  readonly #refusedAfterReuse = new Set<string>();

  constructor(issuer: WebIdentityTokenIssuer, options: { now?: () => number } = {}) {
    this.#issuer = issuer;
    this.#now = options.now ?? Date.now;
  }

  get(client: string, settings: WebIdentitySettings): Promise<WebIdentityToken> {
    const entry = this.#entries.get(client);
    const reusable = entry && (entry.reuseUntil === undefined || this.#now() < entry.reuseUntil);
    if (entry && reusable && !(this.#singleUse.has(client) && entry.uses > 0)) {
      entry.uses++;
      return entry.token;
    }
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
    // Only this refusal counts: an earlier one whose replacement failed too says nothing now.
    this.#refusedAfterReuse.delete(client);
    if (entry) {
      const current = await entry.token.catch(() => undefined);
      if (current && current.value !== rejected.value && this.#entries.get(client) === entry) {
        entry.uses++;
        return current;
      }
      if (current?.value === rejected.value && entry.uses > 1) this.#refusedAfterReuse.add(client);
    }
    if (this.#entries.get(client) !== entry) return this.get(client, settings);
    return this.#fetch(client, settings);
  }

  /**
   * The replacement of a refused assertion was accepted. When the refused one had been presented
   * before, the server accepts each assertion once: true the first time that is learned.
   */
  acceptedReplacement(client: string): boolean {
    const learned = this.#refusedAfterReuse.delete(client) && !this.#singleUse.has(client);
    if (learned) this.#singleUse.add(client);
    return learned;
  }

  #fetch(client: string, settings: WebIdentitySettings): Promise<WebIdentityToken> {
    const requestedAt = this.#now();
    const token = this.#issuer.issue(client, settings);
    const entry: Entry = { token, uses: 1 };
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
