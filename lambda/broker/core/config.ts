/**
 * The broker's configuration: one JSON document, the same for the Lambda (environment variable
 * `BROKER_CONFIG`, written by the CDK construct) and for `npm start -- --config FILE`.
 *
 * It is parsed and validated once, at cold start, into typed values. Every error names the field.
 */

import { MIN_TTL } from '../../shared/contract.ts';
import {
  CLIENT_NAME_PATTERN,
  LOOPBACK_HOSTS,
  normalizeScopes,
  SCOPE_TOKEN_PATTERN,
} from '../../shared/oauth-syntax.ts';
import { quoteInput } from './quote-input.ts';

/**
 * How the broker authenticates to the token endpoint (RFC 6749 §2.3, RFC 7523 §2.2, RFC 8705 §2).
 * `aws_web_identity`: with a JWT that AWS STS signs for the broker's own role (outbound identity
 * federation), sent as an RFC 7523 client assertion; no secret anywhere.
 */
export type AuthMethod =
  | 'client_secret_post'
  | 'client_secret_basic'
  | 'private_key_jwt'
  | 'aws_web_identity'
  | MutualTlsAuthMethod;

/**
 * Mutual TLS client authentication (RFC 8705 §2): the broker presents a client certificate, and
 * the secret holds it with its private key. `tls_client_auth` (§2.1): a certificate issued by a CA
 * the server trusts, matched by subject DN or SAN; `self_signed_tls_client_auth` (§2.2): a
 * certificate the client registered (JWKS `x5c`), matched by its key.
 */
export type MutualTlsAuthMethod = 'tls_client_auth' | 'self_signed_tls_client_auth';

const MUTUAL_TLS_AUTH_METHODS: readonly MutualTlsAuthMethod[] = ['tls_client_auth', 'self_signed_tls_client_auth'];
const AUTH_METHODS: readonly AuthMethod[] = [
  'client_secret_post',
  'client_secret_basic',
  'private_key_jwt',
  'aws_web_identity',
  ...MUTUAL_TLS_AUTH_METHODS,
];

/** Whether `authMethod` presents a client certificate (RFC 8705 §2). */
export function isMutualTls(authMethod: AuthMethod): authMethod is MutualTlsAuthMethod {
  return (MUTUAL_TLS_AUTH_METHODS as readonly AuthMethod[]).includes(authMethod);
}

/**
 * How `client_secret_basic` puts id and secret into the Basic credentials before base64: `form`,
 * form-urlencoded first (RFC 6749 §2.3.1), or `plain`, as they are (what servers that do not
 * URL-decode them expect).
 */
export type BasicAuthEncoding = 'form' | 'plain';

const BASIC_AUTH_ENCODINGS: readonly BasicAuthEncoding[] = ['form', 'plain'];

/** How AWS STS signs the web identity token of an `aws_web_identity` client. */
export type WebIdentitySigningAlgorithm = 'RS256' | 'ES384';

const WEB_IDENTITY_SIGNING_ALGORITHMS: readonly WebIdentitySigningAlgorithm[] = ['RS256', 'ES384'];

/** What the broker asks AWS STS `GetWebIdentityToken` for, for an `aws_web_identity` client. */
export interface WebIdentitySettings {
  /** The token's `aud`: what the authorization server expects (1 to 10 values, each 1 to 1000 characters). */
  readonly audience: readonly string[];
  /** @default 'RS256' */
  readonly signingAlgorithm: WebIdentitySigningAlgorithm;
  /** The token's lifetime, 60 to 3600. @default 300 (seconds) */
  readonly durationSeconds: number;
}

/**
 * Where a client's secret comes from: the client secret, or for `private_key_jwt` its private key,
 * or for the mutual TLS methods the JSON `{ "certificate": PEM, "privateKey": PEM }`.
 */
export type SecretSource =
  | { readonly kind: 'secretsManager'; readonly secretId: string; readonly field?: string }
  | { readonly kind: 'literal'; readonly value: string };

export interface ClientConfig {
  /** Route segment and cache namespace: `[a-z0-9-]{1,64}`, unique. */
  readonly name: string;
  readonly tokenEndpoint: URL;
  /**
   * With the mutual TLS methods: the server's `mtls_endpoint_aliases.token_endpoint` (RFC 8705
   * §5), where the broker sends its token requests and presents the certificate.
   * @default the token endpoint
   */
  readonly mtlsTokenEndpoint?: URL;
  /**
   * Issuer identifier of the authorization server. Used as the `aud` of `private_key_jwt`
   * assertions.
   * @default the token endpoint URL (RFC 7523 §3: the token endpoint is always an acceptable audience)
   */
  readonly issuer: string;
  readonly clientId: string;
  /** Present for every auth method but `aws_web_identity`, which has `webIdentity` instead. */
  readonly clientSecret?: SecretSource;
  readonly authMethod: AuthMethod;
  /** Present with `aws_web_identity` only. */
  readonly webIdentity?: WebIdentitySettings;
  /**
   * With `client_secret_basic`: the {@link BasicAuthEncoding}, or `auto`: `form`, and when the
   * server rejects the client and `plain` differs, `plain` once; whichever is accepted is
   * remembered and tried first from then on. @default 'auto'
   */
  readonly basicAuthEncoding: BasicAuthEncoding | 'auto';
  /** Scopes callers may ask for; a request without `scope` gets all of them. May be empty. */
  readonly scopes: readonly string[];
  /** `audience` parameter (Auth0, Okta and others). */
  readonly audience?: string;
  /** RFC 8707 resource indicators. */
  readonly resource: readonly string[];
  /** Extra form parameters sent with every token request. */
  readonly extraParams: Readonly<Record<string, string>>;
  /** Fraction of a token's lifetime after which it is refreshed. @default 0.75 */
  readonly refreshAt: number;
  /**
   * Lifetime assumed when the server sends no `expires_in` and the access token is not a JWT with
   * an `exp`. @default min(300, maxLifetimeSeconds) (seconds)
   */
  readonly defaultExpiresInSeconds: number;
  /** Longest lifetime the broker believes: a longer `expires_in` (or JWT `exp`) is cut to it. @default 86400 (seconds) */
  readonly maxLifetimeSeconds: number;
  /**
   * A token that lives less than this is served to the requests that obtained it but never
   * cached: the next request asks the server again. @default 5 (seconds)
   */
  readonly minCacheableLifetimeSeconds: number;
  /** Timeout of one HTTP attempt to the token endpoint. @default min(5000, deadlineMs) */
  readonly attemptTimeoutMs: number;
  /** Deadline for one token request including retries. @default 15000 (well under API Gateway's 29 s) */
  readonly deadlineMs: number;
  /** Retries after the first attempt, on network errors, 5xx and 429. @default 3 */
  readonly maxRetries: number;
  /** The largest `min_ttl` a caller may ask for, in seconds. @default 900 */
  readonly maxMinTtlSeconds: number;
}

export interface BrokerConfig {
  readonly clients: readonly ClientConfig[];
  /** How long a secret read from Secrets Manager is reused before it is read again. @default 300000 */
  readonly secretTtlMs: number;
  /**
   * How long the request that starts a refresh-ahead waits for it before answering with the
   * current, still valid token. @default 250 (ms)
   */
  readonly refreshWaitMs: number;
  /** The warm-up refreshes keys served within this many seconds. @default 3600 */
  readonly warmUpWindowSeconds: number;
  /** At most this many recently served keys per warm-up (each client's default set comes on top). @default 100 */
  readonly warmUpMaxKeys: number;
}

export interface ParseOptions {
  /**
   * Allow `clientSecret: { "value": "..." }`. Only local runs set this; in Lambda a literal secret
   * would sit in the function's environment in clear text.
   * @default false
   */
  readonly allowLiteralSecrets?: boolean;
}

/** Thrown for an invalid configuration; the message names the field. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    /** Path of the field, e.g. `clients[0].tokenEndpoint`. */
    readonly field: string,
    /** What is wrong with it, e.g. `must use https:`. */
    readonly problem: string,
  ) {
    super(`Invalid broker configuration: ${field} ${problem}`);
  }
}

/**
 * A client entry as written in the configuration JSON: what {@link parseBrokerConfig} accepts and
 * the CDK construct's props reuse. Each field is documented on {@link ClientConfig}.
 */
export interface ClientInput {
  readonly name: string;
  readonly tokenEndpoint: string;
  readonly mtlsTokenEndpoint?: string;
  readonly issuer?: string;
  readonly clientId: string;
  /** Required, except with `aws_web_identity`, which refuses it. */
  readonly clientSecret?: { readonly secretId: string; readonly field?: string } | { readonly value: string };
  readonly authMethod?: AuthMethod;
  /** Required with `aws_web_identity`, refused otherwise. */
  readonly webIdentity?: {
    readonly audience: string | readonly string[];
    readonly signingAlgorithm?: WebIdentitySigningAlgorithm;
    readonly durationSeconds?: number;
  };
  readonly basicAuthEncoding?: BasicAuthEncoding;
  readonly scopes?: readonly string[];
  readonly audience?: string;
  readonly resource?: string | readonly string[];
  readonly extraParams?: Readonly<Record<string, string>>;
  readonly refreshAt?: number;
  readonly defaultExpiresInSeconds?: number;
  readonly maxLifetimeSeconds?: number;
  readonly minCacheableLifetimeSeconds?: number;
  readonly attemptTimeoutMs?: number;
  readonly deadlineMs?: number;
  readonly maxRetries?: number;
  readonly maxMinTtlSeconds?: number;
}

/** The configuration document as written. */
export interface ConfigInput {
  readonly clients: readonly ClientInput[];
  readonly secretTtlMs?: number;
  readonly refreshWaitMs?: number;
  readonly warmUpWindowSeconds?: number;
  readonly warmUpMaxKeys?: number;
}

/** A key that may appear in a field path as it is. */
const PLAIN_KEY = /^[A-Za-z0-9_$-]{1,64}$/;

const RESERVED_PARAMS = new Set([
  'grant_type',
  'client_id',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
  'scope',
  'audience',
  'resource',
]);

/** Every field of {@link ClientInput}: the compiler refuses a field missing here or there. */
const CLIENT_KEYS = new Set(
  Object.keys({
    name: true,
    tokenEndpoint: true,
    mtlsTokenEndpoint: true,
    issuer: true,
    clientId: true,
    clientSecret: true,
    authMethod: true,
    webIdentity: true,
    basicAuthEncoding: true,
    scopes: true,
    audience: true,
    resource: true,
    extraParams: true,
    refreshAt: true,
    defaultExpiresInSeconds: true,
    maxLifetimeSeconds: true,
    minCacheableLifetimeSeconds: true,
    attemptTimeoutMs: true,
    deadlineMs: true,
    maxRetries: true,
    maxMinTtlSeconds: true,
  } satisfies Record<keyof ClientInput, true>),
);
const ROOT_KEYS = new Set(
  Object.keys({
    clients: true,
    secretTtlMs: true,
    refreshWaitMs: true,
    warmUpWindowSeconds: true,
    warmUpMaxKeys: true,
  } satisfies Record<keyof ConfigInput, true>),
);

/** Parses and validates a configuration document (already JSON-decoded). */
export function parseBrokerConfig(input: unknown, options: ParseOptions = {}): BrokerConfig {
  const root = asObject(input, '(root)');
  rejectUnknownKeys(root, ROOT_KEYS, '');
  const clientsInput = root.clients;
  if (!Array.isArray(clientsInput) || clientsInput.length === 0) {
    throw new ConfigError('clients', 'must be a non-empty array');
  }
  const clients = clientsInput.map((c, i) => parseClient(c, `clients[${i}]`, options));
  const seen = new Set<string>();
  clients.forEach((c, i) => {
    if (seen.has(c.name)) throw new ConfigError(`clients[${i}].name`, `"${c.name}" is used by another client`);
    seen.add(c.name);
  });
  const secretTtlMs = optionalInteger(root.secretTtlMs, 'secretTtlMs', { min: 0, max: 86_400_000 }) ?? 300_000;
  const refreshWaitMs = optionalInteger(root.refreshWaitMs, 'refreshWaitMs', { min: 0, max: 5_000 }) ?? 250;
  const warmUpWindowSeconds =
    optionalInteger(root.warmUpWindowSeconds, 'warmUpWindowSeconds', { min: 60, max: 86_400 }) ?? 3_600;
  const warmUpMaxKeys = optionalInteger(root.warmUpMaxKeys, 'warmUpMaxKeys', { min: 1, max: 1_000 }) ?? 100;
  return { clients, secretTtlMs, refreshWaitMs, warmUpWindowSeconds, warmUpMaxKeys };
}

/** Parses the JSON text of a configuration (environment variable or file). */
export function parseBrokerConfigJson(text: string, source: string, options: ParseOptions = {}): BrokerConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    // Only the position: Node's message quotes the text around it, which may be a secret.
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new ConfigError(source, `is not valid JSON${position === undefined ? '' : ` (at position ${position})`}`);
  }
  return parseBrokerConfig(parsed, options);
}

function parseClient(input: unknown, path: string, options: ParseOptions): ClientConfig {
  const c = asObject(input, path);
  rejectUnknownKeys(c, CLIENT_KEYS, path);

  const name = requiredString(c.name, `${path}.name`);
  if (!CLIENT_NAME_PATTERN.test(name)) {
    throw new ConfigError(`${path}.name`, `${quoteInput(name)} must match [a-z0-9-]{1,64}`);
  }
  const tokenEndpoint = parseEndpoint(c.tokenEndpoint, `${path}.tokenEndpoint`);
  const issuer = c.issuer === undefined ? tokenEndpoint.href : requiredString(c.issuer, `${path}.issuer`);
  const clientId = requiredString(c.clientId, `${path}.clientId`);
  const authMethod = parseAuthMethod(c.authMethod, `${path}.authMethod`);
  const basicAuthEncoding = parseBasicAuthEncoding(c.basicAuthEncoding, authMethod, `${path}.basicAuthEncoding`);
  const mtlsTokenEndpoint = parseMtlsTokenEndpoint(c, tokenEndpoint, authMethod, path);
  const credential = parseCredential(c, authMethod, path, options);
  if (
    isMutualTls(authMethod) &&
    'clientSecret' in credential &&
    credential.clientSecret.kind === 'secretsManager' &&
    credential.clientSecret.field !== undefined
  ) {
    throw new ConfigError(
      `${path}.clientSecret.field`,
      `is not used with authMethod ${authMethod}: the whole secret is the JSON { "certificate", "privateKey" }`,
    );
  }
  const scopes = parseScopes(c.scopes, `${path}.scopes`);
  const audience = c.audience === undefined ? undefined : requiredString(c.audience, `${path}.audience`);
  const resource = parseResource(c.resource, `${path}.resource`);
  const extraParams = parseExtraParams(c.extraParams, `${path}.extraParams`);
  const refreshAt = optionalNumber(c.refreshAt, `${path}.refreshAt`, { min: 0.1, max: 0.95 }) ?? 0.75;
  const { maxLifetimeSeconds, minCacheableLifetimeSeconds, defaultExpiresInSeconds } = parseLifetimes(c, path);
  const deadlineMs = optionalInteger(c.deadlineMs, `${path}.deadlineMs`, { min: 100, max: 25_000 }) ?? 15_000;
  const attemptTimeoutMs =
    optionalInteger(c.attemptTimeoutMs, `${path}.attemptTimeoutMs`, { min: 100, max: 25_000 }) ??
    Math.min(5_000, deadlineMs);
  if (attemptTimeoutMs > deadlineMs) {
    throw new ConfigError(
      `${path}.attemptTimeoutMs`,
      `(${attemptTimeoutMs}) must not exceed deadlineMs (${deadlineMs})`,
    );
  }
  const maxRetries = optionalInteger(c.maxRetries, `${path}.maxRetries`, { min: 0, max: 10 }) ?? 3;
  const maxMinTtlSeconds =
    optionalInteger(c.maxMinTtlSeconds, `${path}.maxMinTtlSeconds`, { min: 0, max: MIN_TTL.maxSeconds }) ?? 900;

  return {
    name,
    tokenEndpoint,
    ...(mtlsTokenEndpoint === undefined ? {} : { mtlsTokenEndpoint }),
    issuer,
    clientId,
    ...credential,
    authMethod,
    basicAuthEncoding,
    scopes,
    ...(audience === undefined ? {} : { audience }),
    resource,
    extraParams,
    refreshAt,
    defaultExpiresInSeconds,
    maxLifetimeSeconds,
    minCacheableLifetimeSeconds,
    attemptTimeoutMs,
    deadlineMs,
    maxRetries,
    maxMinTtlSeconds,
  };
}

function parseLifetimes(c: Record<string, unknown>, path: string) {
  const maxLifetimeSeconds =
    optionalInteger(c.maxLifetimeSeconds, `${path}.maxLifetimeSeconds`, { min: 60, max: 31_536_000 }) ?? 86_400;
  const minCacheableLifetimeSeconds =
    optionalInteger(c.minCacheableLifetimeSeconds, `${path}.minCacheableLifetimeSeconds`, { min: 0, max: 3_600 }) ?? 5;
  if (minCacheableLifetimeSeconds >= maxLifetimeSeconds) {
    throw new ConfigError(
      `${path}.minCacheableLifetimeSeconds`,
      `(${minCacheableLifetimeSeconds}) must be less than maxLifetimeSeconds (${maxLifetimeSeconds})`,
    );
  }
  const defaultExpiresInSeconds =
    optionalInteger(c.defaultExpiresInSeconds, `${path}.defaultExpiresInSeconds`, { min: 1, max: 86_400 }) ??
    Math.min(300, maxLifetimeSeconds);
  if (defaultExpiresInSeconds > maxLifetimeSeconds) {
    throw new ConfigError(
      `${path}.defaultExpiresInSeconds`,
      `(${defaultExpiresInSeconds}) must not exceed maxLifetimeSeconds (${maxLifetimeSeconds})`,
    );
  }
  return { maxLifetimeSeconds, minCacheableLifetimeSeconds, defaultExpiresInSeconds };
}

function parseEndpoint(value: unknown, field: string): URL {
  const text = requiredString(value, field);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Not echoed: a URL that does not parse may still hold user:password@.
    throw new ConfigError(field, 'is not an absolute URL');
  }
  if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) {
    throw new ConfigError(field, 'must use https: (http: is allowed only for loopback hosts)');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(field, 'must use https:');
  }
  if (url.username || url.password) throw new ConfigError(field, 'must not contain credentials');
  if (url.hash) throw new ConfigError(field, 'must not contain a fragment');
  return url;
}

/**
 * The mutual TLS alias, only with a mutual TLS method; and whichever endpoint such a client uses
 * must be `https:`: without TLS there is no certificate to present, not even on loopback.
 */
function parseMtlsTokenEndpoint(
  c: Record<string, unknown>,
  tokenEndpoint: URL,
  authMethod: AuthMethod,
  path: string,
): URL | undefined {
  const field = `${path}.mtlsTokenEndpoint`;
  if (c.mtlsTokenEndpoint !== undefined && !isMutualTls(authMethod)) {
    throw new ConfigError(field, `applies only to authMethod ${MUTUAL_TLS_AUTH_METHODS.join(' or ')}`);
  }
  const alias = c.mtlsTokenEndpoint === undefined ? undefined : parseEndpoint(c.mtlsTokenEndpoint, field);
  if (isMutualTls(authMethod) && (alias ?? tokenEndpoint).protocol !== 'https:') {
    throw new ConfigError(
      alias ? field : `${path}.tokenEndpoint`,
      `must use https: with authMethod ${authMethod} (the client certificate is presented in the TLS handshake)`,
    );
  }
  return alias;
}

function parseAuthMethod(value: unknown, field: string): AuthMethod {
  if (value === undefined) return 'client_secret_post';
  if (typeof value === 'string' && (AUTH_METHODS as readonly string[]).includes(value)) return value as AuthMethod;
  throw new ConfigError(field, `must be one of ${AUTH_METHODS.join(', ')}`);
}

function parseBasicAuthEncoding(value: unknown, authMethod: AuthMethod, field: string): BasicAuthEncoding | 'auto' {
  if (value === undefined) return 'auto';
  if (authMethod !== 'client_secret_basic')
    throw new ConfigError(field, 'applies only to authMethod client_secret_basic');
  if (typeof value === 'string' && (BASIC_AUTH_ENCODINGS as readonly string[]).includes(value)) {
    return value as BasicAuthEncoding;
  }
  throw new ConfigError(field, `must be one of ${BASIC_AUTH_ENCODINGS.join(', ')}`);
}

/** A client secret, or with `aws_web_identity` what to ask AWS STS for: one or the other, never both. */
function parseCredential(
  c: Record<string, unknown>,
  authMethod: AuthMethod,
  path: string,
  options: ParseOptions,
): { clientSecret: SecretSource } | { webIdentity: WebIdentitySettings } {
  if (authMethod !== 'aws_web_identity') {
    if (c.webIdentity !== undefined) {
      throw new ConfigError(`${path}.webIdentity`, 'applies only to authMethod aws_web_identity');
    }
    return { clientSecret: parseSecretSource(c.clientSecret, `${path}.clientSecret`, options) };
  }
  if (c.clientSecret !== undefined) {
    throw new ConfigError(
      `${path}.clientSecret`,
      'must be left out with authMethod aws_web_identity: the client assertion comes from AWS STS',
    );
  }
  return { webIdentity: parseWebIdentity(c.webIdentity, `${path}.webIdentity`) };
}

/** The limits of STS `GetWebIdentityToken` (Audience: 1 to 10 items of 1 to 1000 characters). */
function parseWebIdentity(value: unknown, field: string): WebIdentitySettings {
  if (value === undefined) throw new ConfigError(field, 'is required with authMethod aws_web_identity');
  const o = asObject(value, field);
  rejectUnknownKeys(o, new Set(['audience', 'signingAlgorithm', 'durationSeconds']), field);
  const list = typeof o.audience === 'string' ? [o.audience] : o.audience;
  if (!Array.isArray(list) || list.length === 0 || list.length > 10) {
    throw new ConfigError(`${field}.audience`, 'must be a string or an array of 1 to 10 strings');
  }
  const audience = list.map((a, i) => {
    const f = typeof o.audience === 'string' ? `${field}.audience` : `${field}.audience[${i}]`;
    const text = requiredString(a, f);
    if (text.length > 1000) throw new ConfigError(f, 'must be at most 1000 characters');
    return text;
  });
  if (new Set(audience).size !== audience.length) throw new ConfigError(`${field}.audience`, 'must not repeat a value');
  const signingAlgorithm = o.signingAlgorithm ?? 'RS256';
  if (!(WEB_IDENTITY_SIGNING_ALGORITHMS as readonly unknown[]).includes(signingAlgorithm)) {
    throw new ConfigError(`${field}.signingAlgorithm`, `must be one of ${WEB_IDENTITY_SIGNING_ALGORITHMS.join(', ')}`);
  }
  const durationSeconds =
    optionalInteger(o.durationSeconds, `${field}.durationSeconds`, { min: 60, max: 3_600 }) ?? 300;
  return { audience, signingAlgorithm: signingAlgorithm as WebIdentitySigningAlgorithm, durationSeconds };
}

function parseSecretSource(value: unknown, field: string, options: ParseOptions): SecretSource {
  const o = asObject(value, field);
  if ('value' in o) {
    rejectUnknownKeys(o, new Set(['value']), field);
    if (!options.allowLiteralSecrets) {
      throw new ConfigError(
        `${field}.value`,
        'is a literal secret, allowed only in local runs; store it in Secrets Manager and use { "secretId": ... }',
      );
    }
    if (typeof o.value !== 'string' || o.value.length === 0) {
      throw new ConfigError(`${field}.value`, 'must be a non-empty string');
    }
    return { kind: 'literal', value: o.value };
  }
  rejectUnknownKeys(o, new Set(['secretId', 'field']), field);
  const secretId = requiredString(o.secretId, `${field}.secretId`);
  if (o.field === undefined) return { kind: 'secretsManager', secretId };
  return { kind: 'secretsManager', secretId, field: requiredString(o.field, `${field}.field`) };
}

function parseScopes(value: unknown, field: string): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ConfigError(field, 'must be an array of scope strings');
  return normalizeScopes(
    value.map((s, i) => {
      if (typeof s !== 'string' || !SCOPE_TOKEN_PATTERN.test(s)) {
        throw new ConfigError(
          `${field}[${i}]`,
          'must be a scope token (printable ASCII, no spaces, quotes or backslashes)',
        );
      }
      return s;
    }),
  );
}

function parseResource(value: unknown, field: string): readonly string[] {
  if (value === undefined) return [];
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list)) throw new ConfigError(field, 'must be an absolute URI or an array of them');
  return list.map((r, i) => {
    const f = typeof value === 'string' ? field : `${field}[${i}]`;
    const text = requiredString(r, f);
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new ConfigError(f, `${quoteInput(text)} is not an absolute URI (RFC 8707 §2)`);
    }
    if (url.hash) throw new ConfigError(f, 'must not contain a fragment (RFC 8707 §2)');
    return text;
  });
}

function parseExtraParams(value: unknown, field: string): Readonly<Record<string, string>> {
  if (value === undefined) return {};
  const o = asObject(value, field);
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(o)) {
    if (RESERVED_PARAMS.has(key)) {
      throw new ConfigError(fieldPath(field, key), 'is set by the broker and cannot be overridden');
    }
    // JSON.parse keeps "__proto__" as a key, but assigning it to an object would set the prototype
    // and drop the parameter without a word.
    if (key === '__proto__') throw new ConfigError(fieldPath(field, key), 'is not allowed as a parameter name');
    if (typeof v !== 'string') throw new ConfigError(fieldPath(field, key), 'must be a string');
    out[key] = v;
  }
  return out;
}

function asObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(field, 'must be a JSON object');
  }
  return value as Record<string, unknown>;
}

function rejectUnknownKeys(o: Record<string, unknown>, allowed: Set<string>, path: string): void {
  for (const key of Object.keys(o)) {
    if (!allowed.has(key)) {
      throw new ConfigError(fieldPath(path, key), `is not a known field (known: ${[...allowed].join(', ')})`);
    }
  }
}

/** `path.key`, or `path["..."]` with the key quoted and cut when it is not a plain name. */
function fieldPath(path: string, key: string): string {
  if (!PLAIN_KEY.test(key)) return `${path}[${quoteInput(key)}]`;
  return path === '' ? key : `${path}.${key}`;
}

function requiredString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim().length === 0) {
    throw new ConfigError(field, 'must be a non-empty string');
  }
  return value;
}

function optionalNumber(value: unknown, field: string, range: { min: number; max: number }): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < range.min || value > range.max) {
    throw new ConfigError(field, `must be a number from ${range.min} to ${range.max}`);
  }
  return value;
}

function optionalInteger(value: unknown, field: string, range: { min: number; max: number }): number | undefined {
  const n = optionalNumber(value, field, range);
  if (n !== undefined && !Number.isInteger(n)) throw new ConfigError(field, 'must be a whole number');
  return n;
}
