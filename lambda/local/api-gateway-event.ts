import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { API_ALIAS } from '../shared/contract.ts';

/**
 * Builds the REST API proxy event API Gateway would send for an HTTP request, so the local server
 * runs exactly the Lambda handler. As in the deployed API (one resource per client), `resource`
 * is the literal path and there are no path parameters.
 *
 * The request target is split, not resolved: `//host/clients/shop/token` or the absolute form
 * `http://host/clients/shop/token` keep their whole text as the path (which then matches no
 * route), and a target `new URL` would refuse (`//[`) still gives an event. The maps have no
 * prototype, so a query key such as `__proto__` or `constructor` is just a key. Never throws.
 */
export function toApiGatewayEvent(req: IncomingMessage, stage: string): APIGatewayProxyEvent {
  const target = req.url ?? '/';
  const queryStart = target.indexOf('?');
  const path = queryStart === -1 ? target : target.slice(0, queryStart);
  const query = new URLSearchParams(queryStart === -1 ? '' : target.slice(queryStart + 1));
  const single: Record<string, string> = Object.create(null);
  const multi: Record<string, string[]> = Object.create(null);
  for (const [key, value] of query) {
    single[key] = value;
    multi[key] = [...(multi[key] ?? []), value];
  }
  const headers: Record<string, string> = Object.create(null);
  for (const [key, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers[key] = value;
  }
  const hasQuery = query.size > 0;
  const method = req.method ?? 'GET';
  return {
    httpMethod: method,
    path,
    resource: path,
    pathParameters: null,
    queryStringParameters: hasQuery ? single : null,
    multiValueQueryStringParameters: hasQuery ? multi : null,
    headers,
    multiValueHeaders: {},
    body: null,
    isBase64Encoded: false,
    stageVariables: null,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: undefined,
      httpMethod: method,
      identity: {
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
      } as APIGatewayProxyEvent['requestContext']['identity'],
      path: `/${stage}${path}`,
      protocol: `HTTP/${req.httpVersion}`,
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: path,
      stage,
    },
  };
}

/** A Lambda context for local invocations, through the alias API Gateway invokes (`API_ALIAS`). */
export function localContext(functionName: string, timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}:${API_ALIAS}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
