import type { SecretSource } from './config.ts';
import { BrokerError } from './errors.ts';

/** One version of a client secret (or private key) as read from its source. */
export interface SecretVersion {
  readonly value: string;
  /** Identifies the version, so a re-read can tell whether the secret changed. */
  readonly versionId: string;
}

export type SecretStage = 'AWSCURRENT' | 'AWSPENDING';

/** Reads one stage of a Secrets Manager secret; `undefined` when that stage does not exist. */
export interface SecretReader {
  read(secretId: string, stage: SecretStage): Promise<{ text: string; versionId: string } | undefined>;
}

interface CacheEntry {
  readonly version: Promise<SecretVersion>;
  readonly readAt: number;
}

/**
 * Client secrets, read at first use, cached, and read again after `ttlMs`. Concurrent reads of the
 * same secret share one request; a failed read is not cached.
 *
 * When the authorization server rejects a secret, {@link reloadAfterRejection} looks for a newer
 * one: AWSCURRENT first, then AWSPENDING if AWSCURRENT has not changed. That covers the window of
 * a rotation in which the server already accepts the new secret but Secrets Manager has not yet
 * promoted it.
 */
export class SecretStore {
  readonly #reader: SecretReader;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, CacheEntry>();

  constructor(reader: SecretReader, options: { ttlMs: number; now?: () => number }) {
    this.#reader = reader;
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
  }

  get(source: SecretSource): Promise<SecretVersion> {
    if (source.kind === 'literal') return Promise.resolve({ value: source.value, versionId: 'literal' });
    const key = cacheKey(source);
    const cached = this.#cache.get(key);
    if (cached && this.#now() - cached.readAt < this.#ttlMs) return cached.version;
    return this.#remember(key, this.#readCurrent(source));
  }

  /**
   * Returns a secret version other than `rejected`, or `undefined` when there is none to try.
   * The version found becomes the cached one.
   */
  async reloadAfterRejection(source: SecretSource, rejected: SecretVersion): Promise<SecretVersion | undefined> {
    if (source.kind === 'literal') return undefined;
    const key = cacheKey(source);
    const current = await this.#remember(key, this.#readCurrent(source));
    if (current.versionId !== rejected.versionId) return current;
    const pending = await this.#readStage(source, 'AWSPENDING');
    if (!pending || pending.versionId === rejected.versionId) return undefined;
    await this.#remember(key, Promise.resolve(pending));
    return pending;
  }

  #remember(key: string, version: Promise<SecretVersion>): Promise<SecretVersion> {
    const entry = { version, readAt: this.#now() };
    this.#cache.set(key, entry);
    version.catch(() => {
      if (this.#cache.get(key) === entry) this.#cache.delete(key);
    });
    return version;
  }

  async #readCurrent(source: Extract<SecretSource, { kind: 'secretsManager' }>): Promise<SecretVersion> {
    const version = await this.#readStage(source, 'AWSCURRENT');
    if (!version) throw new BrokerError('internal_error', `Secret ${source.secretId} has no AWSCURRENT version`);
    return version;
  }

  async #readStage(
    source: Extract<SecretSource, { kind: 'secretsManager' }>,
    stage: SecretStage,
  ): Promise<SecretVersion | undefined> {
    const read = await this.#reader.read(source.secretId, stage);
    if (!read) return undefined;
    return { value: extractField(read.text, source), versionId: read.versionId };
  }
}

function cacheKey(source: Extract<SecretSource, { kind: 'secretsManager' }>): string {
  return `${source.secretId}#${source.field ?? ''}`;
}

/** The whole secret string, or one field of a JSON secret. Never echoes the secret in an error. */
function extractField(text: string, source: Extract<SecretSource, { kind: 'secretsManager' }>): string {
  if (source.field === undefined) {
    if (text.length === 0) throw new BrokerError('internal_error', `Secret ${source.secretId} is empty`);
    return text;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BrokerError(
      'internal_error',
      `Secret ${source.secretId} is not a JSON object, but the configuration names its field "${source.field}"`,
    );
  }
  const value =
    typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>)[source.field] : undefined;
  if (typeof value !== 'string' || value.length === 0) {
    throw new BrokerError(
      'internal_error',
      `Secret ${source.secretId} has no non-empty string field "${source.field}"`,
    );
  }
  return value;
}
