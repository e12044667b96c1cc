import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type LocalBroker, startLocalBroker } from '../../../lambda/local/local-broker.ts';
import { assertProperty, hostileString, longStringsIn } from '../../support/fuzz.ts';
import {
  captureLogs,
  expectBrokerAnswer,
  expectSafeLogs,
  fuzzConfig,
  grantingEndpoint,
  type LogCapture,
} from '../../support/fuzz-broker.ts';
import { rawRequest } from '../support/raw-http.ts';

/** What Node's HTTP parser refuses before the route runs: answered with a JSON 400 all the same. */
const PARSER_REFUSALS = ['The HTTP request is malformed', 'The request line or headers are too large'];

/** A URL component written as a client would: percent-encoded, or raw (CR and LF left out: they would end the request line). */
const component = fc
  .tuple(hostileString(), fc.boolean())
  .map(([text, encoded]) => ({ text, written: encoded ? encodeURIComponent(text) : text.replace(/[\r\n]/g, '') }));

const path = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('/clients/shop/token', '/clients/billing/token', '/clients/payroll/token') },
  { weight: 2, arbitrary: component.map((c) => ({ texts: [c.text], written: `/clients/${c.written}/token` })) },
  component.map((c) => ({ texts: [c.text], written: `${c.written}/clients/shop/token` })),
  fc.constantFrom('http://x/clients/shop/token', '//x/clients/shop/token', '//[', '*', '/', '/clients/shop/token/'),
  component.map((c) => ({ texts: [c.text], written: c.written })),
);
const query = fc.array(
  fc.tuple(
    fc.oneof(
      fc
        .constantFrom('scope', '__proto__', 'constructor', 'toString', 'valueOf')
        .map((text) => ({ text, written: text })),
      component,
    ),
    fc.oneof(
      fc
        .constantFrom('read', 'write', 'read%20write', 'read+write', 'admin', '')
        .map((text) => ({ text, written: text })),
      component,
    ),
  ),
  { maxLength: 4 },
);
const method = fc.oneof(
  { weight: 6, arbitrary: fc.constant('GET') },
  fc.constantFrom('POST', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'FOO', 'get'),
);

/** Request targets a client could send, with the strings they carry (for the echo check). */
const request = fc.tuple(method, path, query).map(([verb, p, pairs]) => {
  const { texts, written } = typeof p === 'string' ? { texts: [], written: p } : p;
  const search = pairs.map(([k, v]) => `${k.written}=${v.written}`).join('&');
  const target = search === '' ? written : `${written}?${search}`;
  return { method: verb, target, strings: [target, ...texts, ...pairs.flatMap(([k, v]) => [k.text, v.text])] };
});

describe('Property: the local route answers every HTTP request without a 5xx, a crash or a leak', () => {
  let broker: LocalBroker;
  let logs: LogCapture;
  let logged = 0;

  beforeAll(async () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    vi.stubEnv('POWERTOOLS_DEV', undefined);
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'INFO');
    broker = await startLocalBroker({ config: fuzzConfig, tokenEndpoint: grantingEndpoint });
    logs = captureLogs();
  });
  afterAll(async () => {
    logs?.restore();
    await broker?.stop();
    vi.unstubAllEnvs();
  });

  it('real HTTP requests: a token, or a JSON error naming the problem; the server keeps serving', async () => {
    await assertProperty('local route', request, async ({ method: verb, target, strings }) => {
      // Act
      logs.clear();
      const reply = await rawRequest(broker.url, target, verb);

      // Assess
      const inputs = longStringsIn(strings);
      if (verb === 'HEAD' && reply.body === '') {
        // A HEAD answer has no body (RFC 9110 §9.3.2); one the parser refused still gets the JSON.
        expect([200, 400, 404]).toContain(reply.status);
      } else {
        expect(reply.headers['content-type']).toBe('application/json');
        const body = JSON.parse(reply.body) as { error?: string; error_description?: string };
        expectBrokerAnswer(reply.status, body, inputs);
        const refusedByParser = PARSER_REFUSALS.includes(body.error_description ?? '');
        expectSafeLogs(logs.lines(), refusedByParser ? null : body.error, inputs);
      }
      logged += logs.lines().length;
    });

    // Assess: the capture saw the broker's lines, and the route still serves.
    expect(logged).toBeGreaterThan(0);
    const after = await rawRequest(broker.url, '/clients/shop/token?scope=read');
    expect(after.status).toBe(200);
  });
});
