import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ClientConfig } from '../../../../lambda/broker/core/config.ts';
import { BrokerError } from '../../../../lambda/broker/core/errors.ts';
import { SecretStore } from '../../../../lambda/broker/core/secret-store.ts';
import { TokenBroker } from '../../../../lambda/broker/core/token-broker.ts';
import { TokenCache } from '../../../../lambda/broker/core/token-cache.ts';
import type { TokenEndpoint, TokenResponse } from '../../../../lambda/broker/core/token-endpoint.ts';
import { WebIdentityTokenCache } from '../../../../lambda/broker/core/web-identity-token-cache.ts';
import { brokerConfig } from '../support/client-config.ts';
import { FakeSecretReader } from '../support/fake-secret-reader.ts';
import { FakeWebIdentityIssuer } from '../support/fake-web-identity-issuer.ts';
import { recordingTelemetry } from '../support/recording-telemetry.ts';

const now = () => Date.now();

/** An authorization server that accepts the assertions the test lists, and issues 10-minute tokens. */
function fakeAuthorizationServer(accepted: (assertion: string) => boolean) {
  let issued = 0;
  return vi.fn<TokenEndpoint>(
    async (client: ClientConfig, assertion: string, scopes: readonly string[]): Promise<TokenResponse> => {
      if (!accepted(assertion)) {
        throw new BrokerError('upstream_rejected', 'invalid_client, HTTP 401', { rejection: 'credentials_rejected' });
      }
      issued++;
      return {
        accessToken: `${client.name}-token-${issued}`,
        tokenType: 'Bearer',
        expiresInSeconds: 600,
        scope: scopes.join(' '),
      };
    },
  );
}

function setUp(options: { accepted?: (assertion: string) => boolean; durationSeconds?: number } = {}) {
  const issuer = new FakeWebIdentityIssuer(now);
  const reader = new FakeSecretReader();
  const requestToken = fakeAuthorizationServer(options.accepted ?? (() => true));
  const telemetry = recordingTelemetry();
  const config = brokerConfig([
    {
      name: 'shop',
      clientSecret: undefined,
      authMethod: 'aws_web_identity',
      webIdentity: { audience: 'https://as.example.test', durationSeconds: options.durationSeconds ?? 3600 },
    },
  ]);
  const broker = new TokenBroker(config, {
    secrets: new SecretStore(reader, { ttlMs: 300_000, now }),
    webIdentityTokens: new WebIdentityTokenCache(issuer, { now }),
    cache: new TokenCache({ now }),
    requestToken,
    telemetry,
    now,
  });
  return { broker, issuer, reader, requestToken, telemetry };
}

async function brokerErrorOf(outcome: Promise<unknown>): Promise<BrokerError> {
  const error = await outcome.then(
    () => new Error('expected the request to fail'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BrokerError);
  return error as BrokerError;
}

describe('Class: TokenBroker, authMethod aws_web_identity', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2025-01-01T00:00:00Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('presents the assertion STS issued for the configured audience, reading no secret', async () => {
    // Prepare
    const { broker, issuer, reader, requestToken } = setUp();

    // Act
    const token = await broker.getToken({ client: 'shop', scopes: ['read'] });

    // Assess
    expect(token.accessToken).toBe('shop-token-1');
    expect(issuer.calls).toEqual([
      {
        client: 'shop',
        settings: { audience: ['https://as.example.test'], signingAlgorithm: 'RS256', durationSeconds: 3600 },
      },
    ]);
    expect(requestToken).toHaveBeenCalledWith(
      expect.objectContaining({ name: 'shop' }),
      'assertion-1',
      ['read'],
      expect.anything(),
    );
    expect(reader.reads).toEqual([]);
  });

  it('reuses one assertion for the token requests of its lifetime', async () => {
    // Prepare: tokens live 10 minutes and are refreshed at 75%; the assertion lives an hour.
    const { broker, issuer, requestToken } = setUp();

    // Act
    await broker.getToken({ client: 'shop', scopes: ['read'] });
    await broker.getToken({ client: 'shop', scopes: ['write'] });
    vi.advanceTimersByTime(11 * 60_000);
    await broker.getToken({ client: 'shop', scopes: ['read'] });
    vi.advanceTimersByTime(11 * 60_000);
    await broker.getToken({ client: 'shop', scopes: ['read'] });

    // Assess
    expect(requestToken).toHaveBeenCalledTimes(4);
    expect(new Set(requestToken.mock.calls.map((call) => call[1]))).toEqual(new Set(['assertion-1']));
    expect(issuer.calls).toHaveLength(1);
  });

  it('fetches a new assertion once the old one has served 80% of its lifetime', async () => {
    // Prepare
    const { broker, issuer, requestToken } = setUp({ durationSeconds: 600 });
    await broker.getToken({ client: 'shop', scopes: ['read'] });

    // Act: the access token expired after 10 minutes; the assertion stopped being reused at 8.
    vi.advanceTimersByTime(10 * 60_000);
    await broker.getToken({ client: 'shop', scopes: ['read'] });

    // Assess
    expect(issuer.calls).toHaveLength(2);
    expect(requestToken.mock.calls.map((call) => call[1])).toEqual(['assertion-1', 'assertion-2']);
  });

  it('fetches a new assertion once when the server rejects one, and says the credentials rotated', async () => {
    // Prepare
    const { broker, issuer, requestToken, telemetry } = setUp({ accepted: (a) => a !== 'assertion-1' });

    // Act
    const token = await broker.getToken({ client: 'shop', scopes: ['read'] });

    // Assess
    expect(token.accessToken).toBe('shop-token-1');
    expect(issuer.calls).toHaveLength(2);
    expect(requestToken.mock.calls.map((call) => [call[1], call[3]?.retryRejectedEncoding])).toEqual([
      ['assertion-1', true],
      ['assertion-2', false],
    ]);
    expect(telemetry.events).toEqual([{ event: 'tokenFetched', client: 'shop', credentials: 'rotated' }]);
  });

  it('learns that the server accepts each assertion once, then fetches one per token request', async () => {
    // Prepare: a server that refuses a replayed assertion (RFC 7523 section 3), as Keycloak does.
    const seen = new Set<string>();
    const { broker, issuer, requestToken, telemetry } = setUp({
      accepted: (assertion) => !seen.has(assertion) && Boolean(seen.add(assertion)),
    });
    await broker.getToken({ client: 'shop', scopes: ['read'] });
    vi.advanceTimersByTime(11 * 60_000);
    await broker.getToken({ client: 'shop', scopes: ['read'] });

    // Act
    vi.advanceTimersByTime(11 * 60_000);
    const token = await broker.getToken({ client: 'shop', scopes: ['read'] });

    // Assess: one refused replay, then a new assertion for each request and no refusal.
    expect(token.accessToken).toBe('shop-token-3');
    expect(requestToken.mock.calls.map((call) => call[1])).toEqual([
      'assertion-1',
      'assertion-1',
      'assertion-2',
      'assertion-3',
    ]);
    expect(issuer.calls).toHaveLength(3);
    expect(telemetry.events.filter((e) => e.event === 'assertionReuseRefused')).toEqual([
      { event: 'assertionReuseRefused', client: 'shop' },
    ]);
  });

  it('keeps reusing assertions when the refused one had not been used before (not a replay)', async () => {
    // Prepare: the first assertion is refused on its first use; the server accepts reuse.
    const { broker, issuer, requestToken, telemetry } = setUp({ accepted: (a) => a !== 'assertion-1' });
    await broker.getToken({ client: 'shop', scopes: ['read'] });

    // Act
    vi.advanceTimersByTime(11 * 60_000);
    await broker.getToken({ client: 'shop', scopes: ['read'] });

    // Assess
    expect(requestToken.mock.calls.map((call) => call[1])).toEqual(['assertion-1', 'assertion-2', 'assertion-2']);
    expect(issuer.calls).toHaveLength(2);
    expect(telemetry.events.map((e) => e.event)).not.toContain('assertionReuseRefused');
  });

  it('fails with upstream_rejected when the new assertion is rejected too, after two requests and two STS calls', async () => {
    // Prepare
    const { broker, issuer, requestToken, telemetry } = setUp({ accepted: () => false });

    // Act
    const error = await brokerErrorOf(broker.getToken({ client: 'shop' }));

    // Assess
    expect(error.code).toBe('upstream_rejected');
    expect(requestToken).toHaveBeenCalledTimes(2);
    expect(issuer.calls).toHaveLength(2);
    expect(telemetry.events).toEqual([{ event: 'upstreamFailed', client: 'shop', code: 'upstream_rejected' }]);
  });

  it("fails with the issuer's error, without asking the authorization server, when STS fails", async () => {
    // Prepare
    const { broker, issuer, requestToken } = setUp();
    issuer.failNext(
      new BrokerError('secret_store_unavailable', 'AWS STS is unavailable (ThrottlingException)', {
        retryAfterSeconds: 1,
      }),
    );

    // Act
    const error = await brokerErrorOf(broker.getToken({ client: 'shop' }));

    // Assess
    expect(error).toMatchObject({ code: 'secret_store_unavailable', retryAfterSeconds: 1 });
    expect(requestToken).not.toHaveBeenCalled();
  });

  it('gives up on an STS call that outlasts the deadline, naming STS', async () => {
    // Prepare
    const { broker, issuer, requestToken } = setUp();
    issuer.hold();

    // Act
    const outcome = brokerErrorOf(broker.getToken({ client: 'shop' }));
    await vi.advanceTimersByTimeAsync(15_000);
    const error = await outcome;

    // Assess
    expect(error.code).toBe('secret_store_unavailable');
    expect(error.description).toBe('AWS STS did not answer within the deadline of client shop (15000 ms)');
    expect(requestToken).not.toHaveBeenCalled();
  });
});
