import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import type { MutualTlsAuthMethod } from '../core/config.ts';
import { BrokerError } from '../core/errors.ts';

/** A client certificate and its private key, parsed and checked to belong together (RFC 8705 §2). */
export interface ClientCertificate {
  /** The PEM as stored: the client's certificate, optionally followed by its intermediate CAs. */
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  /** e.g. `CN=shop-broker,O=Example`: for error messages, never secret. */
  readonly subject: string;
}

/**
 * Reads the secret of a mutual TLS client: the JSON `{ "certificate": PEM, "privateKey": PEM }`.
 * Checked when it is loaded, not at the server: the certificate and the key must parse and the key
 * must be the certificate's.
 *
 * Errors name the client and what is wrong, never the key material: the secret's text is not
 * echoed, and causes are reduced to Node's error code.
 */
export function parseClientCertificate(
  secret: string,
  clientName: string,
  authMethod: MutualTlsAuthMethod,
): ClientCertificate {
  const { certificate, privateKey } = secretFields(secret, clientName, authMethod);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certificate);
  } catch (error) {
    throw new BrokerError(
      'internal_error',
      `The certificate of client ${clientName} could not be parsed (an X.509 certificate in PEM expected)`,
      { cause: codeOnly(error) },
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKey);
  } catch (error) {
    throw new BrokerError(
      'internal_error',
      `The private key of client ${clientName} could not be parsed (an unencrypted PKCS#8, PKCS#1 or SEC1 PEM expected)`,
      { cause: codeOnly(error) },
    );
  }
  const subject = x509.subject.split('\n').reverse().join(',');
  if (!x509.checkPrivateKey(key)) {
    throw new BrokerError(
      'internal_error',
      `The private key of client ${clientName} does not belong to its certificate (subject ${subject})`,
    );
  }
  return { certificatePem: certificate, privateKeyPem: privateKey, subject };
}

function secretFields(
  secret: string,
  clientName: string,
  authMethod: MutualTlsAuthMethod,
): { certificate: string; privateKey: string } {
  const expected = `the JSON { "certificate": PEM, "privateKey": PEM } that ${authMethod} needs`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(secret);
  } catch {
    throw new BrokerError('internal_error', `The secret of client ${clientName} is not ${expected}`);
  }
  const fields = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const missing = ['certificate', 'privateKey'].filter((f) => typeof fields[f] !== 'string' || fields[f] === '');
  if (missing.length > 0) {
    throw new BrokerError(
      'internal_error',
      `The secret of client ${clientName} has no ${missing.join(' and no ')} string: it must be ${expected}`,
    );
  }
  return { certificate: fields.certificate as string, privateKey: fields.privateKey as string };
}

function codeOnly(error: unknown): Error {
  return new Error((error as { code?: string }).code ?? 'ERR_INVALID_PEM');
}
