import type { BrokerToken, ReceivedToken } from './broker-response.ts';

/** Longest margin before expiry at which a cached token is refreshed. */
const MAX_REFRESH_MARGIN_MS = 60_000;
/** Share of the remaining lifetime kept as margin, for tokens too short-lived for a full minute. */
const REFRESH_MARGIN_SHARE = 0.1;

/**
 * When a token received at `receivedAtMs` stops being served from the cache: shortly before it
 * expires, with a margin of 60 s or 10 % of its remaining lifetime, whichever is smaller. The
 * margin leaves a caller time to use the token; the broker refreshes its own copy earlier still.
 */
function refreshAtMs(receivedAtMs: number, lifetimeMs: number): number {
  return receivedAtMs + lifetimeMs - Math.min(MAX_REFRESH_MARGIN_MS, lifetimeMs * REFRESH_MARGIN_SHARE);
}

interface Entry {
  readonly token: BrokerToken;
  readonly refreshAtMs: number;
}

/**
 * In-memory tokens by key (client and scope set). A fresh entry is served without a request;
 * concurrent callers that miss share one in-flight load; a failed load leaves nothing behind,
 * so the next call tries again.
 */
export class TokenCache {
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<Entry>>();

  constructor(private readonly now: () => number) {}

  /**
   * The cached token for `key` while it is before its refresh point and, with `minTtlMs`, has at
   * least that long left; otherwise one load shared by concurrent callers. A caller whose
   * freshness a shared load does not meet loads once more for itself.
   */
  async get(key: string, load: () => Promise<ReceivedToken>, minTtlMs = 0): Promise<BrokerToken> {
    const entry = this.#entries.get(key);
    if (entry !== undefined && this.#serves(entry, minTtlMs)) return entry.token;
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) {
      const shared = await pending;
      if (this.#serves(shared, minTtlMs)) return shared.token;
    }
    const own: Promise<Entry> = this.#load(key, load).finally(() => {
      if (this.#inFlight.get(key) === own) this.#inFlight.delete(key);
    });
    this.#inFlight.set(key, own);
    return (await own).token;
  }

  #serves(entry: Entry, minTtlMs: number): boolean {
    const now = this.now();
    return now < entry.refreshAtMs && entry.token.expiresAt.getTime() - now >= minTtlMs;
  }

  async #load(key: string, load: () => Promise<ReceivedToken>): Promise<Entry> {
    try {
      const received = await load();
      const entry = { token: received.token, refreshAtMs: refreshAtMs(this.now(), received.lifetimeMs) };
      this.#entries.set(key, entry);
      return entry;
    } catch (error) {
      // The old entry is past its refresh point: serving it after a failure would hand out a token about to expire.
      this.#entries.delete(key);
      throw error;
    }
  }
}
