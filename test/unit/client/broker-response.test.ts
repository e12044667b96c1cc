import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenBrokerClient, TokenBrokerError } from '../../../lambda/client/index.ts';
import { type FakeBroker, type ScriptedReply, startFakeBroker, tokenBody } from './support/fake-broker-server.ts';

const CREDENTIALS = {
  accessKeyId: 'ASIAERRORS',
  secretAccessKey: 'errors-secret-key',
  sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE-errors-session-token',
};

/** Everything a log line of the error could show: message, properties and the cause chain. */
function everythingLoggable(error: unknown): string {
  return `${inspect(error, { depth: 10 })} ${JSON.stringify(error)}`;
}

/** `readBrokerResponse` gives statuses and bodies their meaning; exercised here through the client over HTTP. */
describe('Function: readBrokerResponse (through TokenBrokerClient over HTTP)', () => {
  let broker: FakeBroker;
  afterEach(async () => {
    await broker?.stop();
  });

  /** Every wait between retries, in milliseconds; none is real. */
  let waits: number[] = [];

  async function failureFor(...replies: ScriptedReply[]): Promise<TokenBrokerError> {
    waits = [];
    broker = await startFakeBroker({
      reply: (_request, i) => replies[Math.min(i, replies.length - 1)] as ScriptedReply,
    });
    const client = new TokenBrokerClient({
      url: broker.url,
      region: 'eu-west-1',
      credentials: CREDENTIALS,
      deadlineMs: 2_000,
      maxRetries: 1,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    const error = await client.getToken({ client: 'shop', scopes: ['read'] }).catch((e: unknown) => e);
    if (!(error instanceof TokenBrokerError)) throw new Error(`expected a TokenBrokerError, got ${String(error)}`);
    return error;
  }

  it.each([
    [400, 'invalid_request', 'scope must be a string'],
    [400, 'invalid_scope', 'Scope "admin" is not configured for client "shop"'],
    [404, 'unknown_client', 'No client named "shop"'],
    [502, 'upstream_rejected', 'The authorization server rejected the client (invalid_client)'],
  ])('throws %i %s with the broker description, after one request', async (status, code, description) => {
    // Act
    const error = await failureFor({ status, body: { error: code, error_description: description } });

    // Assess
    expect(error).toMatchObject({ code, status, description, retryable: false });
    expect(error.message).toBe(`${code}: ${description}`);
    expect(broker.requests).toHaveLength(1);
  });

  it.each([
    ['upstream_unavailable', 'Token endpoint timed out'],
    ['secret_store_unavailable', 'Secrets Manager is unavailable (TimeoutError ETIMEDOUT)'],
  ])('throws %s with the Retry-After, after retrying', async (code, description) => {
    // Act
    const error = await failureFor({
      status: 503,
      headers: { 'Retry-After': '1' },
      body: { error: code, error_description: description },
    });

    // Assess
    expect(error).toMatchObject({ code, status: 503, retryAfterMs: 1_000, retryable: true });
    expect(broker.requests).toHaveLength(2);
    expect(waits).toEqual([1_000]);
  });

  it('throws internal_error after retrying', async () => {
    // Act
    const error = await failureFor({
      status: 500,
      body: { error: 'internal_error', error_description: 'The broker failed; see its logs' },
    });

    // Assess
    expect(error).toMatchObject({ code: 'internal_error', status: 500 });
    expect(broker.requests).toHaveLength(2);
  });

  it.each([
    [
      {
        message:
          'User: arn:aws:sts::123456789012:assumed-role/consumer/fn is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/clients/shop/token',
      },
    ],
    [{ message: 'The security token included in the request is invalid.' }],
    [
      {
        Message:
          'User: anonymous is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/clients/shop/token with an explicit deny',
      },
    ],
  ])('maps an IAM 403 from API Gateway to access_denied: %j', async (body) => {
    // Act
    const error = await failureFor({ status: 403, body });

    // Assess
    expect(error).toMatchObject({ code: 'access_denied', status: 403, retryable: false });
    expect(error.description).toBe(Object.values(body)[0]);
    expect(broker.requests).toHaveLength(1);
  });

  it('maps a 403 without a body to access_denied', async () => {
    // Act
    const error = await failureFor({ status: 403 });

    // Assess
    expect(error).toMatchObject({ code: 'access_denied', description: 'IAM refused the request' });
  });

  it('keeps the session token of a signature-mismatch answer out of the error', async () => {
    // Prepare
    const message = `The request signature we calculated does not match the signature you provided.\n\nThe Canonical String for this request should have been\n'GET\n/prod/clients/shop/token\nscope=read\nhost:x\nx-amz-security-token:${CREDENTIALS.sessionToken}\n'`;

    // Act
    const error = await failureFor({ status: 403, body: { message } });

    // Assess
    expect(error.code).toBe('access_denied');
    const text = everythingLoggable(error);
    expect(text).toContain('access_denied');
    expect(text).not.toContain(CREDENTIALS.sessionToken);
  });

  it('retries an API Gateway 429 and throws throttled when it persists', async () => {
    // Act
    const error = await failureFor({ status: 429, body: { message: 'Too Many Requests' } });

    // Assess
    expect(error).toMatchObject({ code: 'throttled', status: 429, description: 'Too Many Requests' });
    expect(broker.requests).toHaveLength(2);
  });

  it('returns the token when a retry after a 429 succeeds', async () => {
    // Prepare
    broker = await startFakeBroker({
      reply: (_r, i) =>
        i === 0 ? { status: 429, body: { message: 'Too Many Requests' } } : { status: 200, body: tokenBody() },
    });
    const client = new TokenBrokerClient({ url: broker.url, region: 'eu-west-1', credentials: CREDENTIALS });

    // Act
    const token = await client.getToken({ client: 'shop' });

    // Assess
    expect(token.tokenType).toBe('Bearer');
    expect(broker.requests).toHaveLength(2);
  });

  it('maps an API Gateway 502 without a broker body to broker_unavailable', async () => {
    // Act
    const error = await failureFor({ status: 502, body: { message: 'Internal server error' } });

    // Assess
    expect(error).toMatchObject({ code: 'broker_unavailable', status: 502, description: 'Internal server error' });
    expect(broker.requests).toHaveLength(2);
  });

  it('maps a 200 without an access token to unexpected_response', async () => {
    // Act
    const error = await failureFor({ status: 200, body: { token_type: 'Bearer', expires_in: 60 } });

    // Assess
    expect(error).toMatchObject({ code: 'unexpected_response', status: 200 });
  });

  it('maps an unknown path (API Gateway 403 Missing Authentication Token) to access_denied', async () => {
    // Act
    const error = await failureFor({ status: 403, body: { message: 'Missing Authentication Token' } });

    // Assess
    expect(error).toMatchObject({ code: 'access_denied', description: 'Missing Authentication Token' });
  });

  it('never puts the access token, the Authorization header or credentials into an error', async () => {
    // Prepare
    const leakyBody = { ...tokenBody(), access_token: 'eyJ.must-not-leak.sig', token_type: undefined };

    // Act
    const errors = [
      await failureFor({ status: 200, body: leakyBody }),
      await failureFor({ status: 403, body: { message: 'Forbidden' } }),
    ];

    // Assess
    for (const error of errors) {
      const text = everythingLoggable(error);
      expect(text).toContain(error.code);
      expect(text).not.toContain('eyJ.must-not-leak.sig');
      expect(text).not.toContain(CREDENTIALS.secretAccessKey);
      expect(text).not.toContain(CREDENTIALS.sessionToken);
      expect(text).not.toMatch(/AWS4-HMAC-SHA256/);
    }
  });
});
