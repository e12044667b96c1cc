/**
 * The integration suite's log scan: every line the integration tests' processes write to stdout
 * and stderr is recorded (`record-output.ts`, a setup file), with every credential the tests put
 * on the wire or received (client secrets, Authorization headers, client assertions, access
 * tokens). After the suite, `no-secrets-in-logs.scan.ts` fails if any line holds one of them, or
 * anything shaped like an Authorization header, a private key or a JWT.
 */

/** The environment variable naming this run's capture directory (vitest.config.ts sets it per run). */
export const LOG_CAPTURE_ENV = 'M2M_BROKER_LOG_CAPTURE_DIR';
export const OUTPUT_FILE_PREFIX = 'output-';
export const CREDENTIALS_FILE_PREFIX = 'credentials-';
/** Written by the scan when it finds leaks: the capture directory is then kept for a look. */
export const LEAK_REPORT_FILE = 'leaks.json';

export type CredentialKind = 'client_secret' | 'authorization' | 'client_assertion' | 'access_token' | 'canary';

/** A credential the tests handled. Recorded as a JSON line in a credentials file. */
export interface Credential {
  readonly kind: CredentialKind;
  readonly value: string;
}

/**
 * Below this length a credential could be an ordinary word ("password", the seed secret): it is
 * then looked for only where it would stand as a value (a JSON string, a form parameter), not
 * anywhere in a line.
 */
const DISTINCTIVE_LENGTH = 12;

/** Shapes that are a leak whatever the tests recorded. Each needs a digit or a symbol, so prose ("Basic authentication") is not one. */
const LEAK_SHAPES: readonly { readonly what: string; readonly pattern: RegExp }[] = [
  { what: 'a SigV4 Authorization header', pattern: /AWS4-HMAC-SHA256\s+Credential=/ },
  { what: 'a Basic Authorization header', pattern: /\bBasic\s+(?=[A-Za-z0-9+/]*[0-9+/=])[A-Za-z0-9+/]{12,}={0,2}/ },
  {
    what: 'a Bearer Authorization header',
    pattern: /\bBearer\s+(?=[A-Za-z0-9._~+/-]*[0-9._~+/-])[A-Za-z0-9._~+/-]{12,}/,
  },
  { what: 'a PEM private key', pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----/ },
  { what: 'a private JWK', pattern: /"d"\s*:\s*"[A-Za-z0-9_-]{16,}"/ },
  { what: 'a JWT', pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/ },
];

/** One leak: where, and what kind of thing; never the leaked value itself. */
export interface Leak {
  readonly source: string;
  readonly line: number;
  readonly what: string;
}

/** The leaks in `lines` of `source` (a file name), given the credentials the tests handled. */
export function findLeaks(source: string, lines: readonly string[], credentials: readonly Credential[]): Leak[] {
  const unique = new Map(credentials.map((credential) => [credential.value, credential.kind]));
  const matchers = [...unique].map(([value, what]) => ({ what, found: matcherFor(value) }));
  const leaks: Leak[] = [];
  lines.forEach((text, index) => {
    for (const { what, pattern } of LEAK_SHAPES) {
      if (pattern.test(text)) leaks.push({ source, line: index + 1, what });
    }
    for (const { what, found } of matchers) {
      if (found(text)) leaks.push({ source, line: index + 1, what });
    }
  });
  return leaks;
}

function matcherFor(value: string): (line: string) => boolean {
  const forms = [...new Set([value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)])];
  if (value.length >= DISTINCTIVE_LENGTH) return (line) => forms.some((form) => line.includes(form));
  const asValue = new RegExp(
    forms.flatMap((form) => [`"${escapeRegExp(form)}"`, `=${escapeRegExp(form)}(?:&|\\s|$)`]).join('|'),
  );
  return (line) => asValue.test(line);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The credentials in one HTTP exchange the tests made with `fetch`: the request's Authorization
 * header (and, for Basic, the secret inside it), its `client_secret` and `client_assertion` form
 * parameters, and the response's `access_token`.
 */
export function credentialsInRequest(headers: Headers, body: unknown): Credential[] {
  const found: Credential[] = [];
  const authorization = headers.get('authorization');
  if (authorization) {
    found.push({ kind: 'authorization', value: authorization });
    const basic = /^Basic\s+(\S+)$/i.exec(authorization)?.[1];
    const secret = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':').slice(1).join(':') : '';
    if (secret) found.push({ kind: 'client_secret', value: safeDecode(secret) });
  }
  const form = body instanceof URLSearchParams ? body : typeof body === 'string' ? new URLSearchParams(body) : null;
  for (const [name, kind] of [
    ['client_secret', 'client_secret'],
    ['client_assertion', 'client_assertion'],
  ] as const) {
    const value = form?.get(name);
    if (value) found.push({ kind, value });
  }
  return found;
}

/** The access token in a JSON response body, if there is one. */
export function credentialsInResponse(text: string): Credential[] {
  try {
    const token = (JSON.parse(text) as { access_token?: unknown }).access_token;
    return typeof token === 'string' && token.length > 0 ? [{ kind: 'access_token', value: token }] : [];
  } catch {
    return [];
  }
}

/** Basic credentials are form-urlencoded before base64 (RFC 6749 §2.3.1). */
function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}
