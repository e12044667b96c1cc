import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Annotations, Token } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

/** Where the file lands in the function: Lambda extracts layers into `/opt`. */
export const TRUSTED_CA_FILE = '/opt/token-broker/trusted-ca.pem';

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
const PROP = 'trustedCaCertificates';

/** One validated CA certificate. */
export interface TrustedCa {
  readonly pem: string;
  readonly subject: string;
  readonly validFrom: Date;
  readonly validTo: Date;
}

/**
 * Checks `trustedCaCertificates` and returns its certificates: PEM `CERTIFICATE` blocks, each a CA
 * (basicConstraints CA:TRUE) or self-signed, the only kinds that can anchor a server's chain.
 * Anything else in a PEM block, a private key above all, is refused without quoting it; text
 * between blocks (an OpenSSL bundle's comments) is left out.
 */
export function parseTrustedCaCertificates(text: unknown): TrustedCa[] {
  if (typeof text !== 'string') throw new Error(`${PROP} must be a string of PEM text (got ${typeof text})`);
  if (Token.isUnresolved(text)) {
    throw new Error(`${PROP} must be known at synth (PEM text, e.g. read from a file), not a token`);
  }
  const blocks = [...text.matchAll(PEM_BLOCK)];
  if (blocks.length === 0) {
    throw new Error(`${PROP} holds no PEM certificate: expected one or more "-----BEGIN CERTIFICATE-----" blocks`);
  }
  return blocks.map(([pem, label], index) => {
    const which = `${PROP}: block ${index + 1} of ${blocks.length}`;
    if (label !== 'CERTIFICATE') {
      throw new Error(
        /PRIVATE KEY/.test(label as string)
          ? `${which} is a private key: remove it; trusting a CA takes only its certificate, and the file is deployed readable`
          : `${which} is a ${label}, not a CERTIFICATE: only CA certificates belong here`,
      );
    }
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(pem);
    } catch (error) {
      throw new Error(`${which} is not a valid X.509 certificate (${(error as Error).message})`);
    }
    const selfSigned = certificate.checkIssued(certificate) && certificate.verify(certificate.publicKey);
    if (!certificate.ca && !selfSigned) {
      throw new Error(
        `${which} (${oneLine(certificate.subject)}) is not a CA certificate: give the CA that issued the ` +
          "authorization server's certificate, not a certificate it issued",
      );
    }
    return {
      pem,
      subject: oneLine(certificate.subject),
      validFrom: new Date(certificate.validFrom),
      validTo: new Date(certificate.validTo),
    };
  });
}

function oneLine(distinguishedName: string): string {
  return distinguishedName.split('\n').join(', ');
}

export interface TrustedCaLayerProps {
  /** The certificates of `trustedCaCertificates`, as {@link parseTrustedCaCertificates} checked them. */
  readonly certificates: readonly TrustedCa[];
  /** The function's architecture, which a layer must declare. */
  readonly architecture: lambda.Architecture;
  /** Epoch milliseconds, for the expiry warning. @default Date.now() */
  readonly now?: number;
}

/**
 * A Lambda layer with the CA certificates the broker trusts for its token endpoints besides Node.js's
 * roots, at {@link TRUSTED_CA_FILE}; the function names it in `TOKEN_BROKER_TRUSTED_CA_FILE`. A
 * layer rather than a file in the function's code: the prebuilt bundle of the published package
 * stays as it is. Not `NODE_EXTRA_CA_CERTS`, which would extend the trust to the function's AWS
 * connections (Secrets Manager's among them).
 */
export class TrustedCaLayer extends Construct {
  readonly layer: lambda.LayerVersion;

  constructor(scope: Construct, id: string, props: TrustedCaLayerProps) {
    super(scope, id);
    const { certificates } = props;
    const now = props.now ?? Date.now();
    for (const ca of certificates) {
      if (ca.validTo.getTime() < now || ca.validFrom.getTime() > now) {
        Annotations.of(this).addWarningV2(
          'token-broker:trustedCaValidity',
          `${PROP}: ${ca.subject} is valid only from ${ca.validFrom.toISOString()} to ${ca.validTo.toISOString()}: ` +
            'TLS connections to servers it issued certificates for fail outside that time',
        );
      }
    }
    const bundle = `${certificates.map((ca) => ca.pem).join('\n')}\n`;
    this.layer = new lambda.LayerVersion(this, 'Layer', {
      code: lambda.Code.fromAsset(stageFile(bundle)),
      compatibleArchitectures: [props.architecture],
      description: `CA certificates the token broker trusts (${certificates.length}), at ${TRUSTED_CA_FILE}`,
    });
  }
}

/**
 * A new private directory holding the bundle at the layer's path (the asset is named by content,
 * so each synth's copy deploys as the same layer). Created, never reused: nothing another user
 * of a shared build host placed in the temporary directory is written through or deployed.
 */
function stageFile(bundle: string): string {
  const root = mkdtempSync(join(tmpdir(), 'token-broker-trusted-ca-'));
  const file = join(root, TRUSTED_CA_FILE.replace(/^\/opt\//, ''));
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, bundle, { flag: 'wx' });
  // Readable by the function's user whatever the build host's umask: the asset keeps the mode.
  chmodSync(file, 0o644);
  chmodSync(join(file, '..'), 0o755);
  return root;
}
