import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TokenEndpoint, TokenRequestOptions } from '../../../../lambda/broker/core/token-endpoint.ts';
import { meteredTokenEndpoint } from '../../../../lambda/broker/handler/metered-token-endpoint.ts';
import {
  METRIC,
  METRIC_DIMENSION,
  METRICS_NAMESPACE,
  TOKEN_ENDPOINT_OUTCOME,
} from '../../../../lambda/shared/contract.ts';
import { clientConfig } from '../support/client-config.ts';

describe('Function: meteredTokenEndpoint', () => {
  let output: string[];

  beforeEach(() => {
    output = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      output.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  function metered(endpoint: TokenEndpoint) {
    const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'metered-test' });
    let clock = 1_000;
    return meteredTokenEndpoint(endpoint, metrics, () => (clock += 40));
  }

  it('hands the request options (deadline, encoding retry) on to the endpoint it measures', async () => {
    // Prepare
    const received: (TokenRequestOptions | undefined)[] = [];
    const endpoint: TokenEndpoint = async (_client, _secret, _scopes, options) => {
      received.push(options);
      return { accessToken: 'a', tokenType: 'Bearer', expiresIn: 60, scope: 'read' } as never;
    };
    const options: TokenRequestOptions = { deadlineMs: 4_321, retryRejectedEncoding: false };

    // Act
    await metered(endpoint)(clientConfig(), 'secret', ['read'], options);
    await metered(endpoint)(clientConfig(), 'secret', ['read']);

    // Assess
    expect(received).toEqual([options, undefined]);
  });

  it('publishes one latency metric per call, failed ones included, and passes the failure on', async () => {
    // Prepare
    const failure = new Error('refused');
    const endpoint: TokenEndpoint = async () => {
      throw failure;
    };

    // Act
    const call = metered(endpoint)(clientConfig(), 'secret', ['read']);

    // Assess
    await expect(call).rejects.toBe(failure);
    const documents = output.filter((line) => line.includes(METRIC.tokenEndpointLatency));
    expect(documents).toHaveLength(1);
    expect(JSON.parse(documents[0] as string)).toMatchObject({
      [METRIC.tokenEndpointLatency]: 40,
      [METRIC_DIMENSION.outcome]: TOKEN_ENDPOINT_OUTCOME.failed,
      [METRIC_DIMENSION.authorizationServer]: clientConfig().tokenEndpoint.host,
    });
  });
});
