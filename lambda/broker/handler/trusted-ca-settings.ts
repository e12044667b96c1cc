import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { ENV } from '../../shared/contract.ts';
import { ConfigError } from '../core/config.ts';

const CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * The CA certificates the token endpoints' connections trust: Node.js's roots plus those of the
 * file `TOKEN_BROKER_TRUSTED_CA_FILE` names, or `undefined` (Node.js's roots) when it is unset. A
 * file that cannot be read or holds no loadable certificate fails the cold start.
 *
 * @throws ConfigError naming the variable
 */
export function trustedCaFrom(
  env: Readonly<Record<string, string | undefined>>,
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): string[] | undefined {
  const file = env[ENV.trustedCaFile];
  if (!file) return undefined;
  let text: string;
  try {
    text = read(file);
  } catch (error) {
    throw new ConfigError(
      ENV.trustedCaFile,
      `names ${file}, which cannot be read (${(error as { code?: string }).code})`,
    );
  }
  const certificates = text.match(CERTIFICATE) ?? [];
  try {
    // Node would skip a certificate it cannot load, and then fail to verify the server.
    for (const certificate of certificates) new X509Certificate(certificate);
    if (certificates.length > 0) return [...rootCertificates, ...certificates];
  } catch {}
  throw new ConfigError(ENV.trustedCaFile, `names ${file}, which holds no loadable PEM certificate`);
}
