import { TokenBrokerError } from '../../../../lambda/client/errors.ts';
import type { BrokerResponse, TokenRequest, TokenTransport } from '../../../../lambda/client/token-transport.ts';

/** One scripted answer: a response, a failure to throw, or a function of the attempt's signal. */
export type Step = BrokerResponse | Error | ((signal: AbortSignal) => Promise<BrokerResponse>);

/** A transport that plays `steps` in order (repeating the last) and records what it was asked. */
export function scriptedTransport(...steps: Step[]): TokenTransport & { readonly requests: TokenRequest[] } {
  const requests: TokenRequest[] = [];
  let index = 0;
  return {
    requests,
    async send(request, signal) {
      requests.push(request);
      const step = steps[Math.min(index++, steps.length - 1)];
      if (step === undefined) throw new Error('no steps scripted');
      if (step instanceof Error) throw step;
      if (typeof step === 'function') return step(signal);
      return step;
    },
  };
}

export function tokenResponse(overrides: Record<string, unknown> = {}): BrokerResponse {
  const expiresIn = typeof overrides.expires_in === 'number' ? overrides.expires_in : 3600;
  return {
    status: 200,
    body: {
      access_token: 'eyJ.secret-access-token.sig',
      token_type: 'Bearer',
      expires_in: expiresIn,
      expires_at: Math.floor(Date.now() / 1000) + expiresIn,
      scope: 'read',
      ...overrides,
    },
  };
}

export function errorResponse(status: number, error: string, retryAfterMs?: number): BrokerResponse {
  return {
    status,
    body: { error, error_description: `${error} described` },
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  };
}

/** Never answers; rejects when the attempt's timeout aborts it, as fetch does. */
export function hang(signal: AbortSignal): Promise<BrokerResponse> {
  return new Promise((_resolve, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

export const networkError = (): TokenBrokerError =>
  new TokenBrokerError('network_error', 'Could not reach the broker', { cause: new TypeError('fetch failed') });
