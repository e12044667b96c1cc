import type { SecretReader, SecretStage } from '../../../../lambda/broker/core/secret-store.ts';

interface StoredVersion {
  text: string;
  versionId: string;
}

/** An in-memory Secrets Manager secret per id, with its AWSCURRENT and AWSPENDING versions. */
export class FakeSecretReader implements SecretReader {
  readonly reads: { secretId: string; stage: SecretStage }[] = [];
  readonly #secrets = new Map<string, Partial<Record<SecretStage, StoredVersion>>>();
  #failures: Error[] = [];
  #gate: Promise<void> | undefined;

  put(secretId: string, stage: SecretStage, text: string, versionId: string): this {
    this.#secrets.set(secretId, { ...this.#secrets.get(secretId), [stage]: { text, versionId } });
    return this;
  }

  /** The next reads fail with these errors, one each. */
  failNext(...errors: Error[]): void {
    this.#failures.push(...errors);
  }

  /** Holds every read until the returned function is called. */
  hold(): () => void {
    let release = () => {};
    this.#gate = new Promise((resolve) => {
      release = resolve;
    });
    return () => {
      this.#gate = undefined;
      release();
    };
  }

  async read(secretId: string, stage: SecretStage): Promise<{ text: string; versionId: string } | undefined> {
    this.reads.push({ secretId, stage });
    await this.#gate;
    const failure = this.#failures.shift();
    if (failure) throw failure;
    const version = this.#secrets.get(secretId)?.[stage];
    return version && { ...version };
  }
}
