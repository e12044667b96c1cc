import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { API_ALIAS, AUDIT } from '../../shared/contract.ts';
import { BROKER_ERRORS } from '../../shared/error-codes.ts';
import { type BrokerError, toBrokerError } from '../core/errors.ts';
import { ECHO_LIMIT, quoteInput } from '../core/quote-input.ts';
import type { InvocationBudget, TokenBroker, TokenRequest, WarmUpSummary } from '../core/token-broker.ts';
import { type AuditLog, type Caller, callerOfApiEvent, directCaller } from './audit.ts';
import { classifyEvent, parseApiRequest, parseDirectRequest } from './events.ts';
import { type BrokerReply, errorReply, toApiGatewayResult, toDirectResult, tokenReply } from './responses.ts';
import { describeError, recordRequestFailed, recordTokenServed, recordWarmUp } from './telemetry.ts';

export interface HandlerDeps {
  readonly broker: TokenBroker;
  readonly logger: Logger;
  /** Writes one audit line per token request, whatever the log level (see `audit.ts`). */
  readonly audit: AuditLog;
  readonly metrics: Metrics;
}

/**
 * The one handler for API Gateway token requests, direct invocations and warm-up events. It only
 * wires: parsing is in events.ts, the work in TokenBroker, the HTTP shape in responses.ts.
 * The incoming event is never logged: API Gateway events carry the caller's Authorization header.
 *
 * Every token request, served or refused, writes one audit line (`audit.ts`); a served token
 * writes nothing else, so a cache hit costs one log line besides the invocation's metrics.
 */
export function createHandler({ broker, logger, audit, metrics }: HandlerDeps) {
  const serve = async (request: () => TokenRequest, budget: InvocationBudget, caller: Caller): Promise<BrokerReply> => {
    let tokenRequest: TokenRequest | undefined;
    try {
      tokenRequest = request();
      const token = await broker.getToken(tokenRequest, budget);
      recordTokenServed(metrics, token);
      audit(caller, tokenRequest.client, {
        outcome: AUDIT.outcome.served,
        scope: token.scope,
        source: token.source,
        expiresAt: token.expiresAt,
        expiresIn: token.expiresIn,
      });
      return tokenReply(token);
    } catch (error) {
      const brokerError = toBrokerError(error);
      refuse(brokerError, caller, tokenRequest);
      return errorReply(brokerError);
    }
  };

  const refuse = (error: BrokerError, caller: Caller, request: TokenRequest | undefined): void => {
    recordRequestFailed(metrics, error.code);
    log(logger, error, request?.client);
    audit(caller, request?.client, {
      outcome: AUDIT.outcome.refused,
      status: BROKER_ERRORS[error.code].status,
      error: error.code,
      ...(request?.scopes ? { scope: askedScope(request.scopes) } : {}),
    });
  };

  const handle = async (
    event: unknown,
    context: Pick<Context, 'getRemainingTimeInMillis' | 'awsRequestId'> & { readonly invokedFunctionArn?: string },
  ): Promise<APIGatewayProxyResult | WarmUpSummary | object> => {
    const invocation = classifyEvent(event);
    const budget: InvocationBudget = { remainingMs: () => context.getRemainingTimeInMillis() };
    switch (invocation.kind) {
      case 'warmup': {
        const summary = await broker.warmUp(invocation.lookAheadSeconds, budget);
        recordWarmUp(metrics, summary);
        logger[summary.failed > 0 ? 'warn' : 'info']('Warm-up done', { ...summary });
        return summary;
      }
      case 'api': {
        // The identity in the event is API Gateway's only when it invoked us, through its alias.
        const caller = context.invokedFunctionArn?.endsWith(`:${API_ALIAS}`)
          ? callerOfApiEvent(invocation.event, context.awsRequestId)
          : directCaller(context.awsRequestId);
        return toApiGatewayResult(await serve(() => parseApiRequest(invocation.event), budget, caller));
      }
      case 'direct':
        return toDirectResult(
          await serve(() => parseDirectRequest(invocation.event), budget, directCaller(context.awsRequestId)),
        );
      case 'invalid':
        refuse(invocation.error, directCaller(context.awsRequestId), undefined);
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

/** The scopes a refused request asked for, as the audit repeats them: bounded like any echoed input. */
function askedScope(scopes: readonly string[]): string {
  const asked = scopes.join(' ');
  return asked.length <= ECHO_LIMIT ? asked : quoteInput(asked);
}
