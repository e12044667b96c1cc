/**
 * The claims of an access token that is a JWT (RFC 9068 §2), or `undefined` when it is not one (an
 * opaque token, an encrypted JWT) or its payload is not a JSON object.
 *
 * Only the payload is decoded, nothing is verified: the broker does not consume the token, it only
 * reads hints from it. The token is never quoted, even in an error.
 */
export function jwtClaims(accessToken: string): Readonly<Record<string, unknown>> | undefined {
  const segments = accessToken.split('.');
  const payload = segments.length === 3 ? segments[1] : undefined;
  if (!payload || !/^[\w-]+$/.test(payload)) return undefined;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  return typeof claims === 'object' && claims !== null && !Array.isArray(claims)
    ? (claims as Record<string, unknown>)
    : undefined;
}
