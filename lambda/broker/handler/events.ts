import type { APIGatewayProxyEvent } from 'aws-lambda';
import { WARM_UP_LOOK_AHEAD } from '../../shared/contract.ts';
import { SCOPE_TOKEN_PATTERN } from '../../shared/oauth-syntax.ts';
import { BrokerError } from '../core/errors.ts';
import type { TokenRequest } from '../core/token-broker.ts';

/** What one invocation asks of the broker, and how its answer must be shaped. */
export type Invocation =
  | { readonly kind: 'api'; readonly event: APIGatewayProxyEvent }
  | { readonly kind: 'direct'; readonly event: unknown }
  | { readonly kind: 'warmup'; readonly lookAheadSeconds: number }
  | { readonly kind: 'invalid'; readonly error: BrokerError };

const TOKEN_PATH = /\/clients\/([^/]+)\/token\/?$/;
const DIRECT_KEYS = new Set(['client', 'scopes']);

/** Tells the three kinds of events apart; never throws. */
export function classifyEvent(event: unknown): Invocation {
  if (isRecord(event)) {
    if (event.warmup === true) return warmUp(event.lookAheadSeconds);
    if (event.source === 'aws.events' && event['detail-type'] === 'Scheduled Event') return warmUp(undefined);
    if (typeof event.httpMethod === 'string' && isRecord(event.requestContext)) {
      return { kind: 'api', event: event as unknown as APIGatewayProxyEvent };
    }
  }
  return { kind: 'direct', event };
}

/** `GET /clients/{client}/token?scope=read%20write` (REST API proxy event). */
export function parseApiRequest(event: APIGatewayProxyEvent): TokenRequest {
  if (event.httpMethod !== 'GET') {
    throw new BrokerError('invalid_request', `Method ${event.httpMethod} is not allowed; use GET`);
  }
  const client = event.pathParameters?.client ?? clientFromPath(event.resource) ?? clientFromPath(event.path);
  if (!client) throw new BrokerError('invalid_request', 'The path must be /clients/{client}/token');
  const multi = event.multiValueQueryStringParameters?.scope;
  if (multi && multi.length > 1) throw new BrokerError('invalid_request', 'scope must be given at most once');
  const scope = event.queryStringParameters?.scope;
  if (scope === undefined || scope === null) return { client };
  return { client, scopes: parseScopeParameter(scope) };
}

/** `{ "client": "shop", "scopes": ["read"] }` (direct Lambda invocation). */
export function parseDirectRequest(event: unknown): TokenRequest {
  if (!isRecord(event)) {
    throw new BrokerError(
      'invalid_request',
      'The event must be a JSON object like {"client":"shop","scopes":["read"]}',
    );
  }
  for (const key of Object.keys(event)) {
    if (!DIRECT_KEYS.has(key))
      throw new BrokerError('invalid_request', `Unknown field "${key}" (known: client, scopes)`);
  }
  if (typeof event.client !== 'string' || event.client.length === 0) {
    throw new BrokerError('invalid_request', 'client must be a non-empty string');
  }
  if (event.scopes === undefined) return { client: event.client };
  if (
    !Array.isArray(event.scopes) ||
    !event.scopes.every((s) => typeof s === 'string' && SCOPE_TOKEN_PATTERN.test(s))
  ) {
    throw new BrokerError('invalid_request', 'scopes must be an array of scope tokens');
  }
  return { client: event.client, scopes: event.scopes as string[] };
}

/** `{ "warmup": true, "lookAheadSeconds": N }`, N optional and bounded (`lambda/shared/contract.ts`). */
function warmUp(lookAheadSeconds: unknown): Invocation {
  if (lookAheadSeconds === undefined) return { kind: 'warmup', lookAheadSeconds: WARM_UP_LOOK_AHEAD.defaultSeconds };
  const { minSeconds, maxSeconds } = WARM_UP_LOOK_AHEAD;
  if (
    typeof lookAheadSeconds !== 'number' ||
    !Number.isInteger(lookAheadSeconds) ||
    lookAheadSeconds < minSeconds ||
    lookAheadSeconds > maxSeconds
  ) {
    const problem = `lookAheadSeconds must be a whole number from ${minSeconds} to ${maxSeconds}`;
    return { kind: 'invalid', error: new BrokerError('invalid_request', problem) };
  }
  return { kind: 'warmup', lookAheadSeconds };
}

function parseScopeParameter(scope: string): readonly string[] {
  const scopes = scope.split(' ').filter((s) => s.length > 0);
  if (scopes.length === 0)
    throw new BrokerError('invalid_request', 'scope must not be empty; omit it for the defaults');
  for (const s of scopes) {
    if (!SCOPE_TOKEN_PATTERN.test(s)) {
      throw new BrokerError('invalid_request', 'scope must be space-separated scope tokens (RFC 6749 section 3.3)');
    }
  }
  return scopes;
}

function clientFromPath(path: string | null | undefined): string | undefined {
  const match = path ? TOKEN_PATH.exec(path) : null;
  if (!match?.[1] || match[1].startsWith('{')) return undefined;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
