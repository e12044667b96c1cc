import { MIN_TTL, WARM_UP_LOOK_AHEAD } from '../../shared/contract.ts';
import { CLIENT_NAME_PATTERN, SCOPE_TOKEN_PATTERN } from '../../shared/oauth-syntax.ts';
import { BrokerError } from '../core/errors.ts';
import { quoteInput } from '../core/quote-input.ts';
import type { TokenRequest } from '../core/token-broker.ts';

/**
 * What one invocation asks of the broker, and how its answer must be shaped. Events are JSON sent
 * by whoever may invoke the function: every field is checked before it is used, and read only as
 * an own property (a `constructor` or `__proto__` key is data, not a member of Object.prototype).
 */
export type Invocation =
  | { readonly kind: 'api'; readonly event: Readonly<Record<string, unknown>> }
  | { readonly kind: 'direct'; readonly event: unknown }
  | { readonly kind: 'warmup'; readonly lookAheadSeconds: number }
  | { readonly kind: 'invalid'; readonly error: BrokerError };

/**
 * The token route, anchored: the deployed API's resource (and, in a REST proxy event, `path`
 * without the stage) is exactly `/clients/{name}/token`; a trailing slash is tolerated.
 */
const TOKEN_PATH = /^\/clients\/([^/]+)\/token\/?$/;
const DIRECT_KEYS = new Set(['client', 'scopes', MIN_TTL.directField]);
const CLIENT_SYNTAX = 'must be a client name ([a-z0-9-]{1,64})';

/** Tells the three kinds of events apart; never throws. */
export function classifyEvent(event: unknown): Invocation {
  if (isRecord(event)) {
    if (own(event, 'warmup') === true) return warmUp(own(event, 'lookAheadSeconds'));
    if (own(event, 'source') === 'aws.events' && own(event, 'detail-type') === 'Scheduled Event') {
      return warmUp(undefined);
    }
    if (typeof own(event, 'httpMethod') === 'string' && isRecord(own(event, 'requestContext'))) {
      return { kind: 'api', event };
    }
  }
  return { kind: 'direct', event };
}

/**
 * `GET /clients/{client}/token?scope=read%20write` (REST API proxy event). The event may come
 * from a direct invocation that only looks like API Gateway's: no field is trusted to have the
 * type API Gateway would give it.
 */
export function parseApiRequest(event: Readonly<Record<string, unknown>>): TokenRequest {
  const method = own(event, 'httpMethod');
  if (method !== 'GET') throw invalid(`Method ${quoteInput(method)} is not allowed; use GET`);
  const client = clientName(
    own(optionalRecord(event, 'pathParameters'), 'client') ??
      clientFromPath(optionalString(event, 'resource')) ??
      clientFromPath(optionalString(event, 'path')),
  );
  const multi = own(optionalRecord(event, 'multiValueQueryStringParameters'), 'scope');
  if (multi !== undefined && multi !== null && !isStringArray(multi)) {
    throw invalid('multiValueQueryStringParameters.scope must be an array of strings');
  }
  if (multi && multi.length > 1) throw invalid('scope must be given at most once');
  const query = optionalRecord(event, 'queryStringParameters');
  const minTtl = own(query, MIN_TTL.queryParameter);
  const freshness = minTtl === undefined || minTtl === null ? {} : { minTtlSeconds: parseMinTtlParameter(minTtl) };
  const scope = own(query, 'scope');
  if (scope === undefined || scope === null) return { client, ...freshness };
  if (typeof scope !== 'string') throw invalid(`scope must be a string, not ${quoteInput(scope)}`);
  return { client, scopes: parseScopeParameter(scope), ...freshness };
}

/** `{ "client": "shop", "scopes": ["read"] }` (direct Lambda invocation). */
export function parseDirectRequest(event: unknown): TokenRequest {
  if (!isRecord(event)) {
    throw invalid('The event must be a JSON object like {"client":"shop","scopes":["read"]}');
  }
  for (const key of Object.keys(event)) {
    if (!DIRECT_KEYS.has(key))
      throw invalid(`Unknown field ${quoteInput(key)} (known: ${[...DIRECT_KEYS].join(', ')})`);
  }
  const client = own(event, 'client');
  if (typeof client !== 'string' || client.length === 0) throw invalid('client must be a non-empty string');
  if (!CLIENT_NAME_PATTERN.test(client)) throw invalid(`client ${quoteInput(client)} ${CLIENT_SYNTAX}`);
  const minTtl = own(event, MIN_TTL.directField);
  const freshness = minTtl === undefined ? {} : { minTtlSeconds: minTtlSeconds(minTtl, MIN_TTL.directField) };
  const scopes = own(event, 'scopes');
  if (scopes === undefined) return { client, ...freshness };
  if (!isStringArray(scopes) || !scopes.every((s) => SCOPE_TOKEN_PATTERN.test(s))) {
    throw invalid('scopes must be an array of scope tokens (RFC 6749 section 3.3)');
  }
  return { client, scopes, ...freshness };
}

/** `min_ttl` as the query gives it: digits only. */
function parseMinTtlParameter(value: unknown): number {
  if (typeof value !== 'string' || !/^\d{1,6}$/.test(value)) {
    throw invalid(`${MIN_TTL.queryParameter} must be a whole number of seconds, not ${quoteInput(value)}`);
  }
  return minTtlSeconds(Number(value), MIN_TTL.queryParameter);
}

function minTtlSeconds(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MIN_TTL.maxSeconds) {
    throw invalid(`${field} must be a whole number from 0 to ${MIN_TTL.maxSeconds}, not ${quoteInput(value)}`);
  }
  return value;
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
    return { kind: 'invalid', error: invalid(problem) };
  }
  return { kind: 'warmup', lookAheadSeconds };
}

function parseScopeParameter(scope: string): readonly string[] {
  const scopes = scope.split(' ').filter((s) => s.length > 0);
  if (scopes.length === 0) throw invalid('scope must not be empty; omit it for the defaults');
  for (const s of scopes) {
    if (!SCOPE_TOKEN_PATTERN.test(s)) {
      throw invalid('scope must be space-separated scope tokens (RFC 6749 section 3.3)');
    }
  }
  return scopes;
}

/** The client named by the event, checked before anything repeats it. */
function clientName(value: unknown): string {
  if (value === undefined || value === null) throw invalid('The path must be /clients/{client}/token');
  if (typeof value !== 'string') throw invalid(`pathParameters.client must be a string, not ${quoteInput(value)}`);
  if (!CLIENT_NAME_PATTERN.test(value)) throw invalid(`client ${quoteInput(value)} ${CLIENT_SYNTAX}`);
  return value;
}

function clientFromPath(path: string | undefined): string | undefined {
  const match = path === undefined ? null : TOKEN_PATH.exec(path);
  if (!match?.[1] || match[1].startsWith('{')) return undefined;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    throw invalid(`The client segment of the path, ${quoteInput(match[1])}, is not valid percent-encoding`);
  }
}

/** An own field that must be a JSON object when present; absent or null reads as an empty one. */
function optionalRecord(event: Readonly<Record<string, unknown>>, field: string): Readonly<Record<string, unknown>> {
  const value = own(event, field);
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw invalid(`${field} must be an object or null, not ${quoteInput(value)}`);
  return value;
}

function optionalString(event: Readonly<Record<string, unknown>>, field: string): string | undefined {
  const value = own(event, field);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid(`${field} must be a string or null, not ${quoteInput(value)}`);
  return value;
}

/** A field of the object itself, never one inherited from Object.prototype. */
function own(record: Readonly<Record<string, unknown>>, key: string): unknown {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((s) => typeof s === 'string');
}

function invalid(description: string): BrokerError {
  return new BrokerError('invalid_request', description);
}
