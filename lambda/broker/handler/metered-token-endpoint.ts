import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC, METRIC_DIMENSION, TOKEN_ENDPOINT_OUTCOME } from '../../shared/contract.ts';
import type { TokenEndpoint } from '../core/token-endpoint.ts';

/**
 * The token endpoint, measured: one `TokenEndpointLatency` per call (its retries included), by
 * authorization server (the token endpoint's host) and outcome. Calls are rare (a refresh per key
 * and lifetime), so each is published as a single metric of its own.
 */
export function meteredTokenEndpoint(endpoint: TokenEndpoint, metrics: Metrics, now: () => number): TokenEndpoint {
  return async (client, secret, scopes, options) => {
    const started = now();
    const record = (outcome: keyof typeof TOKEN_ENDPOINT_OUTCOME) =>
      metrics
        .singleMetric()
        .addDimensions({
          [METRIC_DIMENSION.authorizationServer]: client.tokenEndpoint.host,
          [METRIC_DIMENSION.outcome]: TOKEN_ENDPOINT_OUTCOME[outcome],
        })
        .addMetric(METRIC.tokenEndpointLatency, MetricUnit.Milliseconds, Math.max(0, now() - started));
    try {
      const response = await endpoint(client, secret, scopes, options);
      record('ok');
      return response;
    } catch (error) {
      record('failed');
      throw error;
    }
  };
}
