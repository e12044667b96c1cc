import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { ClientMetadata, KoaContextWithOIDC } from 'oidc-provider';

/** What the embedded authorization server needs to serve mutual TLS clients (RFC 8705). */
export interface MutualTlsServerOptions {
  /** The HTTPS listener's certificate (PEM), for 127.0.0.1. */
  readonly certificate: string;
  readonly privateKey: string;
  /** The CA (PEM) whose certificates `tls_client_auth` clients present. */
  readonly clientCa: string;
  /**
   * Clients to register: `tls_client_auth` ones with a `tls_client_auth_subject_dn`,
   * `self_signed_tls_client_auth` ones with `jwks` holding their certificate in `x5c`.
   */
  readonly clients: readonly ClientMetadata[];
}

/** The certificate presented on the request's TLS connection, if any (plain HTTP: none). */
export function clientCertificateOf(ctx: { readonly req: IncomingMessage }): X509Certificate | undefined {
  const socket = ctx.req.socket as Partial<TLSSocket>;
  return socket.getPeerX509Certificate?.() ?? undefined;
}

/**
 * oidc-provider's `features.mTLS`: both client authentication methods and certificate-bound
 * access tokens, for the clients that ask for them
 * (`tls_client_certificate_bound_access_tokens`). The certificate comes from the TLS socket;
 * `tls_client_auth` trusts what the listener's CA verified and matches the subject DN.
 */
export function mutualTlsFeature() {
  return {
    enabled: true,
    certificateBoundAccessTokens: true,
    selfSignedTlsClientAuth: true,
    tlsClientAuth: true,
    getCertificate: clientCertificateOf,
    certificateAuthorized: (ctx: KoaContextWithOIDC) => (ctx.req.socket as Partial<TLSSocket>).authorized === true,
    certificateSubjectMatches: (ctx: KoaContextWithOIDC, property: string, expected: string) =>
      property === 'tls_client_auth_subject_dn' && subjectDnOf(clientCertificateOf(ctx)) === expected,
  } as const;
}

/** `CN=...,O=...` (RFC 4514 order: Node lists the DN most significant first, one per line). */
export function subjectDnOf(certificate: X509Certificate | undefined): string | undefined {
  return certificate?.subject.split('\n').reverse().join(',');
}
