import { jwtClaims } from './jwt-claims.ts';

/**
 * Seconds from `nowMs` to the `exp` of an access token that is a JWT (RFC 9068 §2.2.1), or
 * `undefined` when it is not one (an opaque token, an encrypted JWT) or has no numeric `exp`.
 * Its lifetime when the server sends no `expires_in`, and a bound on the one it sends: decoded,
 * not verified.
 */
export function jwtSecondsLeft(accessToken: string, nowMs: number): number | undefined {
  const exp = jwtClaims(accessToken)?.exp;
  return typeof exp === 'number' && Number.isFinite(exp) ? exp - nowMs / 1000 : undefined;
}
