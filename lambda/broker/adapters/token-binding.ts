import { jwtClaims } from './jwt-claims.ts';

/**
 * How an access token that is a JWT is bound to a key (the members of its `cnf` claim, RFC 7800
 * §3.1): `x5t#S256` for a client certificate (RFC 8705 §3.1), `jkt` for a DPoP key (RFC 9449
 * §6.1). `undefined` for a token without `cnf`, and for a token that is not a JWT: whether an
 * opaque token is bound cannot be seen from it.
 *
 * Only names that look like one are returned, so a server's odd `cnf` cannot get text of its
 * choosing into an error message.
 */
export function confirmationMethodsOf(accessToken: string): readonly string[] | undefined {
  const cnf = jwtClaims(accessToken)?.cnf;
  if (cnf === undefined) return undefined;
  const members = typeof cnf === 'object' && cnf !== null ? Object.keys(cnf) : [];
  const named = members.filter((m) => /^[\w#.-]{1,20}$/.test(m));
  return named.length > 0 ? named : ['unrecognized'];
}
