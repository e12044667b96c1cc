import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC, METRIC_DIMENSION, TOKEN_SOURCE_METRIC } from '../../shared/contract.ts';
import type { BrokerErrorCode } from '../../shared/error-codes.ts';
import type { TokenEndpointTelemetry } from '../adapters/oauth-token-endpoint.ts';
import type { BrokerError } from '../core/errors.ts';
import type { BrokerTelemetry, IssuedToken, WarmUpSummary } from '../core/token-broker.ts';

/** {@link BrokerTelemetry} over Powertools. Logs codes and descriptions only: never a token or secret. */
export function powertoolsTelemetry(logger: Logger, metrics: Metrics): BrokerTelemetry & TokenEndpointTelemetry {
  return {
    tokenFetched(client, credentials) {
      metrics.addMetric(METRIC.tokenFetched, MetricUnit.Count, 1);
      logger.info('Obtained a new token', { client, credentials });
    },
    upstreamFailed(client, error) {
      metrics.addMetric(METRIC.upstreamFailure, MetricUnit.Count, 1);
      logger.error('Token request failed', { client, ...describeError(error) });
    },
    sharedTierFailed(operation, error) {
      metrics.addMetric(METRIC.sharedCacheFailure, MetricUnit.Count, 1);
      logger.warn('Shared token cache failed; using memory and the authorization server directly', {
        operation,
        causes: causeNames(error),
      });
    },
    tokenTooLarge(client) {
      metrics.addMetric(METRIC.sharedCacheOversized, MetricUnit.Count, 1);
      logger.warn('Token too large for the shared cache; kept in this instance only', { client });
    },
    refreshWindowTooShort(client, refreshWindowSeconds, lookAheadSeconds) {
      metrics.addMetric(METRIC.refreshWindowTooShort, MetricUnit.Count, 1);
      logger.warn('Token due for refresh before the next warm-up; callers will see refresh-ahead', {
        client,
        refreshWindowSeconds,
        lookAheadSeconds,
      });
    },
    basicAuthEncodingLearned(client, encoding) {
      logger.info('Basic encoding accepted; tried first from now on', {
        client,
        basicAuthEncoding: encoding,
      });
    },
    assertionReuseRefused(client) {
      logger.info('Client assertions are single-use at this server: a new one for each token request from now on', {
        client,
      });
    },
    servedStale(client, error) {
      metrics.addMetric(METRIC.staleTokenServed, MetricUnit.Count, 1);
      logger.warn('Refresh failed; serving the current token, still valid', { client, ...describeError(error) });
    },
  };
}

/**
 * A served token: `TokenServed`, the metric of its source (memory, shared, fetched, stale) and
 * its remaining lifetime. All in the invocation's one EMF line, with the `service` dimension only.
 */
export function recordTokenServed(metrics: Metrics, token: Pick<IssuedToken, 'source' | 'expiresIn'>): void {
  // Two metrics, not three: the count of served tokens is the lifetime's sample count.
  metrics.addMetric(TOKEN_SOURCE_METRIC[token.source], MetricUnit.Count, 1);
  metrics.addMetric(METRIC.tokenRemainingLifetime, MetricUnit.Seconds, token.expiresIn);
}

/**
 * A refused request: `RequestFailed` with `service` (the total) and, as a single metric of its
 * own, with `service` and `error` (one series per error code, a handful of values).
 */
export function recordRequestFailed(metrics: Metrics, code: BrokerErrorCode): void {
  metrics.addMetric(METRIC.requestFailed, MetricUnit.Count, 1);
  metrics
    .singleMetric()
    .addDimension(METRIC_DIMENSION.error, code)
    .addMetric(METRIC.requestFailed, MetricUnit.Count, 1);
}

/** A completed warm-up: the heartbeat (`WarmUpRun`) and how many keys ended which way. */
export function recordWarmUp(metrics: Metrics, summary: WarmUpSummary): void {
  metrics.addMetric(METRIC.warmUpRun, MetricUnit.Count, 1);
  metrics.addMetric(METRIC.warmUpRefreshed, MetricUnit.Count, summary.refreshed);
  metrics.addMetric(METRIC.warmUpFresh, MetricUnit.Count, summary.fresh);
  metrics.addMetric(METRIC.warmUpFailure, MetricUnit.Count, summary.failed);
  metrics.addMetric(METRIC.warmUpDeferred, MetricUnit.Count, summary.deferred);
}

/**
 * What a log line may say about an error: its code, description and the names/codes along its
 * cause chain. Messages of causes are left out (an SDK or fetch message is not ours to vet).
 */
export function describeError(error: BrokerError): { code: string; description: string; causes?: string[] } {
  const causes = causeNames(error.cause);
  return causes.length > 0
    ? { code: error.code, description: error.description, causes }
    : { code: error.code, description: error.description };
}

/** Names and codes along a cause chain, starting with `error` itself (messages only of our own plain Errors). */
function causeNames(error: unknown): string[] {
  const causes: string[] = [];
  let cause = error;
  while (cause instanceof Error && causes.length < 5) {
    const code = (cause as { code?: unknown }).code;
    causes.push(
      typeof code === 'string' ? `${cause.name} ${code}` : cause.name === 'Error' ? cause.message : cause.name,
    );
    cause = cause.cause;
  }
  return causes;
}
