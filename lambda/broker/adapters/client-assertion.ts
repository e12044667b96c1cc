import type * as oauth from 'oauth4webapi';

/** RFC 7523 §2.2: the `client_assertion_type` of a JWT client assertion. */
const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/**
 * Client authentication with a JWT someone else signed (AWS STS, for `aws_web_identity`), sent as
 * it is: `client_id`, `client_assertion_type` and `client_assertion` in the body (RFC 7523 §2.2,
 * RFC 7521 §4.2). Unlike `oauth.PrivateKeyJwt`, nothing is signed here: the authorization server
 * matches the assertion's issuer and subject to the client, and checks its signature against the
 * issuer's keys.
 */
export function clientAssertion(assertion: string): oauth.ClientAuth {
  return (_as, client, body) => {
    body.set('client_id', client.client_id);
    body.set('client_assertion_type', JWT_BEARER_ASSERTION);
    body.set('client_assertion', assertion);
  };
}
