import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { METRIC } from '../../shared/contract.ts';
import { type BrokerError, toBrokerError } from '../core/errors.ts';
import type { InvocationBudget, TokenBroker, TokenRequest, WarmUpSummary } from '../core/token-broker.ts';
import { classifyEvent, parseApiRequest, parseDirectRequest } from './events.ts';
import { type BrokerReply, errorReply, toApiGatewayResult, toDirectResult, tokenReply } from './responses.ts';
import { describeError } from './telemetry.ts';

export interface HandlerDeps {
  readonly broker: TokenBroker;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/**
 * The one handler for API Gateway token requests, direct invocations and warm-up events. It only
 * wires: parsing is in events.ts, the work in TokenBroker, the HTTP shape in responses.ts.
 * The incoming event is never logged: API Gateway events carry the caller's Authorization header.
 */
export function createHandler({ broker, logger, metrics }: HandlerDeps) {
  const serve = async (request: () => TokenRequest, budget: InvocationBudget): Promise<BrokerReply> => {
    let tokenRequest: TokenRequest | undefined;
    try {
      tokenRequest = request();
      const token = await broker.getToken(tokenRequest, budget);
      logger.info('Token served', {
        client: tokenRequest.client,
        scope: token.scope,
        source: token.source,
        expiresIn: token.expiresIn,
      });
      metrics.addMetric(METRIC.tokenServed, MetricUnit.Count, 1);
      return tokenReply(token);
    } catch (error) {
      const brokerError = toBrokerError(error);
      metrics.addMetric(METRIC.requestFailed, MetricUnit.Count, 1);
      log(logger, brokerError, tokenRequest?.client);
      return errorReply(brokerError);
    }
  };

  const handle = async (
    event: unknown,
    context: Pick<Context, 'getRemainingTimeInMillis'>,
  ): Promise<APIGatewayProxyResult | WarmUpSummary | object> => {
    const invocation = classifyEvent(event);
    const budget: InvocationBudget = { remainingMs: () => context.getRemainingTimeInMillis() };
    switch (invocation.kind) {
      case 'warmup': {
        const summary = await broker.warmUp(invocation.lookAheadSeconds, budget);
        metrics.addMetric(METRIC.warmUpFailure, MetricUnit.Count, summary.failed);
        logger[summary.failed > 0 ? 'warn' : 'info']('Warm-up done', { ...summary });
        return summary;
      }
      case 'api':
        return toApiGatewayResult(await serve(() => parseApiRequest(invocation.event), budget));
      case 'direct':
        return toDirectResult(await serve(() => parseDirectRequest(invocation.event), budget));
      case 'invalid':
        metrics.addMetric(METRIC.requestFailed, MetricUnit.Count, 1);
        log(logger, invocation.error, undefined);
        return toDirectResult(errorReply(invocation.error));
    }
  };

  // logEvent: false wins over POWERTOOLS_LOGGER_LOG_EVENT, which would log the caller's Authorization header.
  return middy(handle)
    .use(injectLambdaContext(logger, { logEvent: false }))
    .use(logMetrics(metrics));
}

function log(logger: Logger, error: BrokerError, client: string | undefined): void {
  const fields = { client, ...describeError(error) };
  if (error.code === 'internal_error') logger.error('Request failed', fields);
  else logger.warn('Request refused', fields);
}
