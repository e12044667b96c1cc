import type { WebIdentitySettings } from '../../../../lambda/broker/core/config.ts';
import type {
  WebIdentityToken,
  WebIdentityTokenIssuer,
} from '../../../../lambda/broker/core/web-identity-token-issuer.ts';

/**
 * STS in memory: numbers its tokens (`assertion-1`, `assertion-2`...) and reports them expiring
 * `durationSeconds` after the call, on the clock it is given.
 */
export class FakeWebIdentityIssuer implements WebIdentityTokenIssuer {
  readonly calls: { client: string; settings: WebIdentitySettings }[] = [];
  readonly #now: () => number;
  #failures: Error[] = [];
  #gate: Promise<void> | undefined;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** The next calls fail with these errors, one each. */
  failNext(...errors: Error[]): void {
    this.#failures.push(...errors);
  }

  /** Holds every call until the returned function is called. */
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

  async issue(client: string, settings: WebIdentitySettings): Promise<WebIdentityToken> {
    this.calls.push({ client, settings });
    const number = this.calls.length;
    const issuedAt = this.#now();
    await this.#gate;
    const failure = this.#failures.shift();
    if (failure) throw failure;
    return { value: `assertion-${number}`, expiresAt: issuedAt + settings.durationSeconds * 1000 };
  }
}
