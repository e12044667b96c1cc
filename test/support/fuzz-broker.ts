import { expect } from 'vitest';
import type { OAuthTokenEndpointDeps } from '../../lambda/broker/adapters/oauth-token-endpoint.ts';
import { type BrokerConfig, parseBrokerConfig } from '../../lambda/broker/core/config.ts';
import { AUDIT } from '../../lambda/shared/contract.ts';
import { BROKER_ERRORS, isBrokerErrorCode } from '../../lambda/shared/error-codes.ts';
import { expectNoLongEcho } from './fuzz.ts';

/** What must never reach a log line or an error: distinctive, so a find is a leak, not a coincidence. */
const FUZZ_SECRET = 'fuzz-client-secret-5d0f9c3a71';
const FUZZ_ACCESS_TOKEN = 'fuzz-access-token-9b1e77c4d2e8';
const FUZZ_SIGNATURE = 'fuzzsig0123456789abcdef0123456789';
/** The caller's SigV4 header, as API Gateway passes it in the event. */
export const FUZZ_AUTHORIZATION = `AWS4-HMAC-SHA256 Credential=ASIAFUZZ/20260101/eu-west-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=${FUZZ_SIGNATURE}`;

/** Two clients with literal secrets; `shop` may ask for read and write. */
export const fuzzConfig: BrokerConfig = parseBrokerConfig(
  {
    clients: ['shop', 'billing'].map((name) => ({
      name,
      tokenEndpoint: 'https://as.example.test/oauth2/token',
      clientId: `${name}-m2m`,
      clientSecret: { value: FUZZ_SECRET },
      scopes: ['read', 'write'],
    })),
  },
  { allowLiteralSecrets: true },
);

/** A token endpoint that grants whatever is asked, at once. */
export const grantingEndpoint: OAuthTokenEndpointDeps = {
  fetch: (async (_url: string | URL | Request, init?: RequestInit) => {
    const form = new URLSearchParams(String(init?.body ?? ''));
    return Response.json({
      access_token: FUZZ_ACCESS_TOKEN,
      token_type: 'Bearer',
      expires_in: 3600,
      scope: form.get('scope') ?? undefined,
    });
  }) as typeof fetch,
  now: Date.now,
  sleep: async () => {},
  random: () => 0.5,
};

export interface LogCapture {
  /** Lines written since the last `clear()`. */
  lines(): string[];
  clear(): void;
  restore(): void;
}

/** Swallows and records what the process writes to stdout and stderr (Powertools logs JSON lines to stdout). */
export function captureLogs(): LogCapture {
  let chunks: string[] = [];
  const streams = [process.stdout, process.stderr] as const;
  const originals = streams.map((stream) => stream.write);
  for (const stream of streams) {
    stream.write = ((chunk: unknown) => {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return true;
    }) as typeof stream.write;
  }
  return {
    lines: () => chunks.join('').split('\n').filter(Boolean),
    clear: () => {
      chunks = [];
    },
    restore: () => {
      streams.forEach((stream, index) => {
        stream.write = originals[index] as typeof stream.write;
      });
    },
  };
}

/** Longest log line the broker may write, whatever it was sent. */
const MAX_LOG_LINE = 2_048;
/** Longest error body the broker may answer, whatever it was sent. */
const MAX_ERROR_BODY = 1_024;

/**
 * One answer of the broker to a fuzzed request: never a 5xx; a token, or a refusal as a JSON
 * error `{error, error_description}` whose status matches its code and whose description names
 * the problem (it is not the generic internal one) without repeating a long input.
 */
export function expectBrokerAnswer(statusCode: number, body: unknown, inputs: readonly string[]): void {
  expect([200, 400, 404]).toContain(statusCode);
  if (statusCode === 200) {
    expect(body).toMatchObject({ access_token: FUZZ_ACCESS_TOKEN, token_type: 'Bearer' });
    return;
  }
  const { error, error_description: description, ...rest } = body as Record<string, unknown>;
  expect(rest).toEqual({});
  expect(isBrokerErrorCode(error) && BROKER_ERRORS[error].status).toBe(statusCode);
  expect(description).toBeTypeOf('string');
  expect((description as string).length).toBeGreaterThan(10);
  expect(JSON.stringify(body).length).toBeLessThanOrEqual(MAX_ERROR_BODY);
  for (const secret of [FUZZ_SECRET, FUZZ_ACCESS_TOKEN, FUZZ_SIGNATURE]) expect(description).not.toContain(secret);
  expectNoLongEcho(description as string, inputs);
}

/**
 * The log lines of one fuzzed request: JSON, bounded, free of secrets, tokens and the caller's
 * signature, repeating no long input, and saying what happened (the audit line `served`, or
 * `Request refused` with the answer's `error` code): a capture that caught nothing fails here.
 * `error: null` skips that last check, for requests refused before the handler runs.
 */
export function expectSafeLogs(lines: readonly string[], error: unknown, inputs: readonly string[]): void {
  const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  if (error === undefined) {
    expect(parsed).toContainEqual(expect.objectContaining({ message: AUDIT.message, outcome: AUDIT.outcome.served }));
  } else if (error !== null) {
    expect(parsed).toContainEqual(expect.objectContaining({ message: 'Request refused', code: error }));
  }
  for (const line of lines) {
    expect(line.length).toBeLessThanOrEqual(MAX_LOG_LINE);
    for (const secret of [FUZZ_SECRET, FUZZ_ACCESS_TOKEN, FUZZ_SIGNATURE, 'AWS4-HMAC-SHA256']) {
      expect(line).not.toContain(secret);
    }
    expectNoLongEcho(line, inputs);
  }
}
