import { MIN_TTL } from '../shared/contract.ts';
import { LOOPBACK_HOSTS } from '../shared/oauth-syntax.ts';
import { TokenBrokerConfigError } from './errors.ts';
import type { TokenRequest } from './token-transport.ts';

/**
 * Validates the broker's base URL (the API stage's invoke URL, e.g.
 * `https://abc123.execute-api.eu-west-1.amazonaws.com/prod`, or through one VPC endpoint
 * `https://abc123-vpce-0123456789abcdef0.execute-api.eu-west-1.amazonaws.com/prod`) and returns it
 * with a trailing slash, ready to resolve relative paths against. `http:` is accepted for loopback
 * hosts only (the local broker).
 */
export function parseBrokerUrl(value: string, field: string): URL {
  // Errors never repeat the value: it may hold credentials (https://user:password@...) and has no bound.
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    const scheme = safeScheme(value);
    throw new TokenBrokerConfigError(
      field,
      scheme
        ? `is not a valid ${scheme} URL (its host or port cannot be read)`
        : 'is not an absolute URL: it must start with https://',
    );
  }
  const loopbackHttp = url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
  if (url.protocol !== 'https:' && !loopbackHttp) {
    const scheme = safeScheme(url.protocol);
    throw new TokenBrokerConfigError(
      field,
      `must use https: (http: only for localhost)${scheme ? `; it uses ${scheme}` : ''}`,
    );
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new TokenBrokerConfigError(field, 'must not contain credentials, a query or a fragment');
  }
  if (VPC_ENDPOINT_DNS_NAME.test(url.hostname)) {
    throw new TokenBrokerConfigError(
      field,
      "names the VPC endpoint's own DNS name, which API Gateway serves only with the API id in a Host or " +
        'x-apigw-api-id header; use https://{api}-{vpce}.execute-api.{region}.amazonaws.com/{stage}/ instead',
    );
  }
  if (!url.pathname.endsWith('/')) url.pathname = `${url.pathname}/`;
  return url;
}

/** The token resource of a request: `{base}clients/{client}/token[?min_ttl=...&scope=...]`. */
export function tokenUrl(base: URL, request: TokenRequest): { url: URL; query: Record<string, string> } {
  const url = new URL(`clients/${encodeURIComponent(request.client)}/token`, base);
  const query: Record<string, string> = {};
  if (request.minTtlSeconds !== undefined) query[MIN_TTL.queryParameter] = String(request.minTtlSeconds);
  if (request.scopes !== undefined) query.scope = request.scopes.join(' ');
  // Encoded exactly as SigV4 encodes the canonical query (sorted, RFC 3986, space as %20), so what
  // is sent is what was signed. URLSearchParams would send `+` for the space.
  url.search = Object.keys(query)
    .sort()
    .map((name) => `${name}=${encodeRfc3986(query[name] as string)}`)
    .join('&');
  return { url, query };
}

/**
 * `{api}.execute-api.{region}.amazonaws.com` (a public API, or a private one through a VPC endpoint
 * with private DNS) or `{api}-{vpce}.execute-api.{region}.amazonaws.com` (a private API through one
 * endpoint, a public name that resolves to the endpoint's addresses).
 */
const API_HOST = /^[a-z0-9]+(?:-vpce-[0-9a-f]+)?\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;
/** `vpce-{id}-{suffix}.execute-api.{region}.vpce.amazonaws.com`: the endpoint's own name. */
const VPC_ENDPOINT_DNS_NAME = /^vpce-[0-9a-z-]+\.execute-api\.[a-z0-9-]+\.vpce\.amazonaws\.com(?:\.cn)?$/;

/**
 * Region of an `execute-api` host name ({@link API_HOST}), which is the region to sign for. Either
 * form is signed as it is: API Gateway checks the signature against the host the request was
 * sent to, which `fetch` sets from the URL.
 */
export function regionOfApiHost(hostname: string): string | undefined {
  return API_HOST.exec(hostname)?.[1];
}

/**
 * The scheme `text` starts with, when it is a well-known one: what parses as a scheme may as well be
 * a user name or a password (`admin:S3cret@host`).
 */
function safeScheme(text: string): string | undefined {
  return /^(?:https?|wss?|ftp|file|arn):/i.exec(text)?.[0].toLowerCase();
}

function encodeRfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
