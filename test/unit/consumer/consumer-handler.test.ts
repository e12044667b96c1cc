import { describe, expect, it, vi } from 'vitest';
import { TokenBrokerError } from '../../../lambda/client/index.ts';
import { createConsumerHandler } from '../../../lambda/consumer/consumer-handler.ts';

const TOKEN = {
  accessToken: 'eyJ.consumer-secret-token.sig',
  tokenType: 'Bearer',
  expiresAt: new Date('2030-01-01T01:00:00Z'),
  scope: 'read',
};

describe('Function: createConsumerHandler', () => {
  it('returns and logs only the expiry and scope of the token', async () => {
    // Prepare
    const logger = { info: vi.fn(), error: vi.fn() };
    const getToken = vi.fn(async () => TOKEN);
    const handler = createConsumerHandler({ tokens: { getToken }, client: 'shop', logger });

    // Act
    const result = await handler();

    // Assess
    expect(result).toEqual({ expiresAt: '2030-01-01T01:00:00.000Z', scope: 'read' });
    expect(getToken).toHaveBeenCalledWith({ client: 'shop' });
    expect(logger.info).toHaveBeenCalledWith('Got a token from the broker', {
      client: 'shop',
      expiresAt: '2030-01-01T01:00:00.000Z',
      scope: 'read',
    });
    expect(JSON.stringify([logger.info.mock.calls, result])).not.toContain(TOKEN.accessToken);
  });

  it('logs the error code and rethrows when the broker refuses', async () => {
    // Prepare
    const logger = { info: vi.fn(), error: vi.fn() };
    const refusal = new TokenBrokerError('unknown_client', 'No client named "shop"', { status: 404 });
    const handler = createConsumerHandler({
      tokens: { getToken: async () => Promise.reject(refusal) },
      client: 'shop',
      logger,
    });

    // Act
    const result = handler();

    // Assess
    await expect(result).rejects.toBe(refusal);
    expect(logger.error).toHaveBeenCalledWith('Could not get a token', {
      client: 'shop',
      code: 'unknown_client',
      status: 404,
      description: 'No client named "shop"',
    });
  });
});
