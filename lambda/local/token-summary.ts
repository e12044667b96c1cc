import { createHash } from 'node:crypto';

/**
 * What `npm start` prints about the token it obtained from a user's own authorization server: a
 * real credential, so not the token itself, only its type, scope, lifetime and a fingerprint
 * (the first 8 hex characters of its SHA-256) that tells two tokens apart without revealing them.
 * A body without a token (an error) is printed as it is: it holds no secret.
 */
export function summarizeTokenReply(body: unknown): string {
  const { access_token: token, ...rest } = (typeof body === 'object' && body !== null ? body : {}) as Record<
    string,
    unknown
  >;
  if (typeof token !== 'string') return JSON.stringify(body, null, 2);
  const fingerprint = createHash('sha256').update(token).digest('hex').slice(0, 8);
  return [
    `Obtained a ${String(rest.token_type)} token (not printed: it is a real credential)`,
    `  scope:       ${JSON.stringify(rest.scope ?? '')}`,
    `  expires in:  ${String(rest.expires_in)} s`,
    `  fingerprint: sha256:${fingerprint}`,
  ].join('\n');
}
