import * as oauth from 'oauth4webapi';
import type { BasicAuthEncoding, ClientConfig } from '../core/config.ts';
import { clientAssertion } from './client-assertion.ts';
import { parseClientCertificate } from './client-certificate.ts';
import { refuseKeyValueSecret } from './key-value-secret.ts';
import { type MutualTlsOptions, mutualTlsFetch } from './mutual-tls-fetch.ts';
import { clientSecretBasic, plainBasicDiffers } from './plain-basic-auth.ts';
import { importClientPrivateKey } from './private-key.ts';

/** One way to present a client's credentials; `encoding` tells the `client_secret_basic` ones apart. */
export interface ClientAuthentication {
  readonly auth: oauth.ClientAuth;
  readonly encoding?: BasicAuthEncoding;
  /** The mutual TLS methods: the fetch presenting the client certificate, to this client's token endpoint only. */
  readonly fetch?: typeof fetch;
}

/**
 * The ways to present a client's credentials to its token endpoint (RFC 6749 §2.3, RFC 7523 §2.2):
 * one, except for `client_secret_basic` with `basicAuthEncoding` auto when the plain encoding
 * differs from the form one: then both, form first. The mutual TLS methods (RFC 8705 §2) send
 * only `client_id` in the body and present the certificate in the TLS handshake.
 *
 * A key/value secret read whole is refused, except where a JSON object is the format: a private
 * JWK, and the mutual TLS `{ "certificate", "privateKey" }`.
 */
export async function clientAuthentications(
  client: ClientConfig,
  secret: string,
  tls: MutualTlsOptions = {},
): Promise<readonly ClientAuthentication[]> {
  switch (client.authMethod) {
    case 'client_secret_post':
      return [{ auth: oauth.ClientSecretPost(refuseKeyValueSecret(client, secret)) }];
    case 'client_secret_basic':
      return basicAuthentications(client, refuseKeyValueSecret(client, secret));
    case 'private_key_jwt': {
      const key = await importClientPrivateKey(refuseKeyValueSecret(client, secret, 'kty'), client.name);
      const header = key.thumbprints;
      return [
        { auth: oauth.PrivateKeyJwt(key, header && { [oauth.modifyAssertion]: (h) => Object.assign(h, header) }) },
      ];
    }
    case 'tls_client_auth':
    case 'self_signed_tls_client_auth': {
      const certificate = parseClientCertificate(secret, client.name, client.authMethod);
      const endpoint = client.mtlsTokenEndpoint ?? client.tokenEndpoint;
      return [{ auth: oauth.TlsClientAuth(), fetch: mutualTlsFetch(certificate, endpoint.origin, tls) }];
    }
    case 'aws_web_identity':
      return [{ auth: clientAssertion(secret) }];
  }
}

function basicAuthentications(client: ClientConfig, secret: string): readonly ClientAuthentication[] {
  const form: ClientAuthentication = { auth: clientSecretBasic(secret, 'form'), encoding: 'form' };
  const plain: ClientAuthentication = { auth: clientSecretBasic(secret, 'plain'), encoding: 'plain' };
  switch (client.basicAuthEncoding) {
    case 'form':
      return [form];
    case 'plain':
      return [plain];
    case 'auto':
      return plainBasicDiffers(client.clientId, secret) ? [form, plain] : [form];
  }
}
