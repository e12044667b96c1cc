import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC } from '../../shared/contract.ts';
import type { BrokerError } from '../core/errors.ts';
import type { BrokerTelemetry } from '../core/token-broker.ts';

/** {@link BrokerTelemetry} over Powertools. Logs codes and descriptions only: never a token or secret. */
export function powertoolsTelemetry(logger: Logger, metrics: Metrics): BrokerTelemetry {
  return {
    tokenFetched(client, credentials) {
      metrics.addMetric(METRIC.tokenFetched, MetricUnit.Count, 1);
      logger.info('Obtained a new token', { client, credentials });
    },
    upstreamFailed(client, error) {
      metrics.addMetric(METRIC.upstreamFailure, MetricUnit.Count, 1);
      logger.error('Token request failed', { client, ...describeError(error) });
    },
    servedStale(client, error) {
      metrics.addMetric(METRIC.staleTokenServed, MetricUnit.Count, 1);
      logger.warn('Refresh failed; serving the current token, still valid', { client, ...describeError(error) });
    },
  };
}

/**
 * What a log line may say about an error: its code, description and the names/codes along its
 * cause chain. Messages of causes are left out (an SDK or fetch message is not ours to vet).
 */
export function describeError(error: BrokerError): { code: string; description: string; causes?: string[] } {
  const causes: string[] = [];
  let cause = error.cause;
  while (cause instanceof Error && causes.length < 5) {
    const code = (cause as { code?: unknown }).code;
    causes.push(
      typeof code === 'string' ? `${cause.name} ${code}` : cause.name === 'Error' ? cause.message : cause.name,
    );
    cause = cause.cause;
  }
  return causes.length > 0
    ? { code: error.code, description: error.description, causes }
    : { code: error.code, description: error.description };
}
