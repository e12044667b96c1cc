/**
 * Seconds from `nowMs` to the `exp` of an access token that is a JWT (RFC 9068 §2.2.1), or
 * `undefined` when it is not one (an opaque token, an encrypted JWT) or has no numeric `exp`.
 *
 * Only the payload is decoded, nothing is verified: the broker does not consume the token, it
 * only needs a hint of its lifetime when the server sends no `expires_in`. The token is never
 * quoted, even in an error.
 */
export function jwtSecondsLeft(accessToken: string, nowMs: number): number | undefined {
  const segments = accessToken.split('.');
  const payload = segments.length === 3 ? segments[1] : undefined;
  if (!payload || !/^[\w-]+$/.test(payload)) return undefined;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const exp = typeof claims === 'object' && claims !== null ? (claims as { exp?: unknown }).exp : undefined;
  return typeof exp === 'number' && Number.isFinite(exp) ? exp - nowMs / 1000 : undefined;
}
