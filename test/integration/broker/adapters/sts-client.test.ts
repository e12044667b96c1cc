import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createStsClient } from '../../../../lambda/broker/adapters/sts-client.ts';
import { StsWebIdentityTokenIssuer } from '../../../../lambda/broker/adapters/sts-web-identity-token-issuer.ts';
import type { WebIdentitySettings } from '../../../../lambda/broker/core/config.ts';
import { startDownServer } from '../../support/down-server.ts';
import { startHungServer } from '../../support/hung-server.ts';

const SETTINGS: WebIdentitySettings = {
  audience: ['https://as.example.com'],
  signingAlgorithm: 'RS256',
  durationSeconds: 300,
};

describe('Function: createStsClient, with StsWebIdentityTokenIssuer', () => {
  beforeEach(() => {
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'testing');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'testing');
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('gives up on a hung STS within its bounds, as secret_store_unavailable', async () => {
    // Prepare
    const hung = await startHungServer();
    vi.stubEnv('AWS_ENDPOINT_URL_STS', hung.url);
    const issuer = new StsWebIdentityTokenIssuer(
      createStsClient({ connectionTimeoutMs: 200, requestTimeoutMs: 300, maxAttempts: 2 }),
    );
    const started = Date.now();
    try {
      // Act
      const error = await issuer.issue('shop', SETTINGS).catch((caught: unknown) => caught);

      // Assess
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(error).toMatchObject({
        code: 'secret_store_unavailable',
        description: expect.stringMatching(/^AWS STS is unavailable \(TimeoutError/),
      });
    } finally {
      await hung.stop();
    }
  });

  it('reports an STS that refuses connections as secret_store_unavailable', async () => {
    // Prepare
    const down = await startDownServer();
    vi.stubEnv('AWS_ENDPOINT_URL_STS', new URL(down.tokenEndpoint).origin);
    const issuer = new StsWebIdentityTokenIssuer(
      createStsClient({ connectionTimeoutMs: 200, requestTimeoutMs: 300, maxAttempts: 1 }),
    );
    try {
      // Act
      const error = await issuer.issue('shop', SETTINGS).catch((caught: unknown) => caught);

      // Assess
      expect(error).toMatchObject({ code: 'secret_store_unavailable', retryAfterSeconds: 1 });
    } finally {
      await down.stop();
    }
  });
});
