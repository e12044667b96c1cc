import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its private key, both PEM. */
export interface KeyAndCertificate {
  readonly certificate: string;
  readonly privateKey: string;
}

/** The JSON a mutual TLS client's secret holds (see the README). */
export function clientCertificateSecret(pair: KeyAndCertificate): string {
  return JSON.stringify({ certificate: pair.certificate, privateKey: pair.privateKey });
}

/**
 * A throw-away PKI for one test file, made with the `openssl` CLI (node:crypto makes keys but not
 * certificates): a CA, a server certificate for 127.0.0.1 and client certificates it issues, and
 * self-signed client certificates. Everything is valid for two days and lives in memory: the
 * files openssl needs are removed as soon as it has run.
 */
export class TestPki {
  readonly ca: KeyAndCertificate;

  private constructor(ca: KeyAndCertificate) {
    this.ca = ca;
  }

  static create(caName = 'M2M Token Broker Test CA'): TestPki {
    const dir = mkdtempSync(join(tmpdir(), 'token-broker-pki-'));
    try {
      const key = newKey();
      const certificate = openssl(dir, key, [
        'req',
        '-x509',
        '-new',
        '-subj',
        `/O=M2M Token Broker Tests/CN=${caName}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ]);
      return new TestPki({ certificate, privateKey: key });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** A server certificate for `127.0.0.1`. */
  server(): KeyAndCertificate {
    return this.#issue('/O=M2M Token Broker Tests/CN=127.0.0.1', [
      'subjectAltName=IP:127.0.0.1',
      'extendedKeyUsage=serverAuth',
    ]);
  }

  /** A client certificate with `subject` (OpenSSL's `/O=.../CN=...` form), for `tls_client_auth`. */
  client(subject: string): KeyAndCertificate {
    return this.#issue(subject, ['extendedKeyUsage=clientAuth']);
  }

  #issue(subject: string, extensions: readonly string[]): KeyAndCertificate {
    const key = newKey();
    const dir = mkdtempSync(join(tmpdir(), 'token-broker-pki-'));
    try {
      writeFileSync(join(dir, 'ca.pem'), this.ca.certificate);
      writeFileSync(join(dir, 'ca.key'), this.ca.privateKey, { mode: 0o600 });
      writeFileSync(join(dir, 'ext.cnf'), `${extensions.join('\n')}\n`);
      const request = openssl(dir, key, ['req', '-new', '-subj', subject], 'csr.pem');
      writeFileSync(join(dir, 'csr.pem'), request);
      const certificate = execFileSync(
        'openssl',
        [
          'x509',
          '-req',
          '-in',
          join(dir, 'csr.pem'),
          '-CA',
          join(dir, 'ca.pem'),
          '-CAkey',
          join(dir, 'ca.key'),
          '-set_serial',
          `0x${randomSerial()}`,
          '-days',
          '2',
          '-extfile',
          join(dir, 'ext.cnf'),
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
      );
      return { certificate, privateKey: key };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** A self-signed client certificate, for `self_signed_tls_client_auth`. */
export function selfSignedClient(commonName: string): KeyAndCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'token-broker-self-signed-'));
  try {
    const key = newKey();
    const certificate = openssl(dir, key, [
      'req',
      '-x509',
      '-new',
      '-subj',
      `/O=M2M Token Broker Tests/CN=${commonName}`,
      '-addext',
      'extendedKeyUsage=clientAuth',
    ]);
    return { certificate, privateKey: key };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The public JWK of a self-signed certificate with the certificate in `x5c` (RFC 7517 §4.7): what
 * a `self_signed_tls_client_auth` client registers (RFC 8705 §2.2).
 */
export function registeredJwk(pair: KeyAndCertificate): Record<string, unknown> {
  const x509 = new X509Certificate(pair.certificate);
  return { ...x509.publicKey.export({ format: 'jwk' }), x5c: [x509.raw.toString('base64')] };
}

/** `CN=...,O=...` (RFC 4514, least significant first): how a server registers a subject DN. */
export function subjectDn(pair: KeyAndCertificate): string {
  return new X509Certificate(pair.certificate).subject.split('\n').reverse().join(',');
}

function newKey(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** Runs `openssl <args> -key key.pem` in `dir` with a 2-day validity where it applies; returns stdout. */
function openssl(dir: string, key: string, args: readonly string[], output = 'out.pem'): string {
  const keyFile = join(dir, `${output}.key`);
  writeFileSync(keyFile, key, { mode: 0o600 });
  try {
    const validity = args.includes('-x509') ? ['-days', '2'] : [];
    return execFileSync('openssl', [...args, ...validity, '-key', keyFile, '-config', emptyConfig(dir)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } finally {
    rmSync(keyFile, { force: true });
  }
}

/** No system openssl.cnf: its defaults (v3_ca on every `req -x509`) would differ between machines. */
function emptyConfig(dir: string): string {
  const file = join(dir, 'openssl.cnf');
  writeFileSync(file, '[req]\ndistinguished_name = dn\n[dn]\n');
  return file;
}

function randomSerial(): string {
  return randomBytes(8).toString('hex');
}
