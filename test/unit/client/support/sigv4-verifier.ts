import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * An independent AWS Signature Version 4 verifier, written from the specification
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html) with node:crypto
 * only, so that it shares no code with the `@smithy/signature-v4` signer it checks. It does what
 * API Gateway's IAM authorization does with a request: recompute the signature from the raw request.
 */
export interface VerifierCredentials {
  readonly secretAccessKey: string;
  /** When set, the request must carry this token, signed, in `X-Amz-Security-Token`. */
  readonly sessionToken?: string;
}

export interface VerifierOptions {
  /** Known access key ids and their secrets. */
  readonly credentials: ReadonlyMap<string, VerifierCredentials>;
  readonly region: string;
  readonly service: string;
  readonly now: Date;
  /** @default 300000 (API Gateway allows 5 minutes of clock skew) */
  readonly maxSkewMs?: number;
}

export interface RawRequest {
  readonly method: string;
  /** Path and query exactly as on the request line. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export type Verdict =
  | { readonly ok: true; readonly accessKeyId: string; readonly signedHeaders: readonly string[] }
  | { readonly ok: false; readonly reason: string };

const AUTH_PATTERN =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

export function verifySigV4(request: RawRequest, options: VerifierOptions): Verdict {
  const authorization = single(request.headers.authorization);
  const match = authorization === undefined ? null : AUTH_PATTERN.exec(authorization);
  if (match === null) return { ok: false, reason: 'missing or malformed Authorization header' };
  const [, accessKeyId = '', shortDate = '', region, service, signedHeaderList = '', signature = ''] = match;

  const known = options.credentials.get(accessKeyId);
  if (known === undefined) return { ok: false, reason: 'unknown access key' };
  if (region !== options.region || service !== options.service) {
    return { ok: false, reason: `credential scope is ${region}/${service}` };
  }
  const amzDate = single(request.headers['x-amz-date']);
  if (amzDate === undefined || !/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== shortDate) {
    return { ok: false, reason: 'X-Amz-Date missing or not matching the credential scope' };
  }
  const signedAt = Date.parse(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  );
  if (Math.abs(options.now.getTime() - signedAt) > (options.maxSkewMs ?? 300_000)) {
    return { ok: false, reason: 'signature expired or from the future' };
  }
  const signedHeaders = signedHeaderList.split(';');
  for (const required of ['host', 'x-amz-date']) {
    if (!signedHeaders.includes(required)) return { ok: false, reason: `${required} is not signed` };
  }
  const payloadHash = sha256Hex(request.body);
  const declaredHash = single(request.headers['x-amz-content-sha256']);
  if (declaredHash !== undefined && declaredHash !== payloadHash) {
    return { ok: false, reason: 'X-Amz-Content-Sha256 does not match the body' };
  }
  const canonicalRequest = [
    request.method,
    canonicalUri(request.url),
    canonicalQuery(request.url),
    ...signedHeaders.map((name) => `${name}:${canonicalHeaderValue(request.headers[name])}`),
    '',
    signedHeaderList,
    payloadHash,
  ].join('\n');
  const scope = `${shortDate}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const expected = signatureOf(stringToSign, known.secretAccessKey, shortDate, region, service);
  if (!timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(signature, 'hex'))) {
    return { ok: false, reason: 'signature does not match' };
  }
  // Checked after the signature, as a tampered token must first break the signature that covers it.
  if (known.sessionToken !== undefined) {
    if (single(request.headers['x-amz-security-token']) !== known.sessionToken) {
      return { ok: false, reason: 'X-Amz-Security-Token missing or wrong' };
    }
    if (!signedHeaders.includes('x-amz-security-token')) {
      return { ok: false, reason: 'x-amz-security-token is not signed' };
    }
  }
  return { ok: true, accessKeyId, signedHeaders };
}

function signatureOf(stringToSign: string, secret: string, date: string, region: string, service: string): string {
  const kDate = hmac(`AWS4${secret}`, date);
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, service);
  const kSigning = hmac(kService, 'aws4_request');
  return createHmac('sha256', kSigning).update(stringToSign, 'utf8').digest('hex');
}

/** Every service but S3 encodes each path segment twice: once on the wire, once more here. */
function canonicalUri(url: string): string {
  const path = url.split('?', 1)[0] ?? '/';
  return path.split('/').map(encodeRfc3986).join('/') || '/';
}

/** Parameters decoded, re-encoded per RFC 3986, sorted by name then value. */
function canonicalQuery(url: string): string {
  const index = url.indexOf('?');
  if (index < 0) return '';
  return url
    .slice(index + 1)
    .split('&')
    .filter((pair) => pair.length > 0)
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      const value = eq < 0 ? '' : pair.slice(eq + 1);
      return [encodeRfc3986(decodeURIComponent(name)), encodeRfc3986(decodeURIComponent(value))] as const;
    })
    .sort(([n1, v1], [n2, v2]) => (n1 < n2 ? -1 : n1 > n2 ? 1 : v1 < v2 ? -1 : v1 > v2 ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

function canonicalHeaderValue(value: string | string[] | undefined): string {
  const joined = Array.isArray(value) ? value.join(',') : (value ?? '');
  return joined.trim().replace(/\s+/g, ' ');
}

function encodeRfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
