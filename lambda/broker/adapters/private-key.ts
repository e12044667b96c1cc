import { createPrivateKey, type JsonWebKey as NodeJwk, webcrypto } from 'node:crypto';
import { type BrokerConfig, ConfigError } from '../core/config.ts';
import { BrokerError } from '../core/errors.ts';
import { quoteInput } from '../core/quote-input.ts';

/** A private key ready for oauth4webapi's `PrivateKeyJwt` (RFC 7523 §2.2 client assertions). */
export interface ClientPrivateKey {
  readonly key: webcrypto.CryptoKey;
  readonly kid?: string;
  /**
   * The JWK's certificate thumbprints (`x5t`, `x5t#S256`, RFC 7517 §4.8-4.9), for the assertion's
   * header: Entra ID identifies a certificate credential by them.
   */
  readonly thumbprints?: Readonly<Record<string, string>>;
}

/** Why a secret is not a usable private key. Its text never quotes the secret. */
class UnusableKey extends Error {
  override readonly name = 'UnusableKey';
}

const EXPECTED = 'expected a PKCS#8, PKCS#1 or SEC1 PEM private key, or a private JWK (JSON with "d")';

/**
 * Imports the private key stored in a client's secret: a PKCS#8 / PKCS#1 / SEC1 PEM, or a private
 * JWK (JSON) whose optional `kid` and `alg` are honoured. RSA keys sign RS256 unless the JWK says
 * PS256/PS384/PS512/RS384/RS512; EC keys sign with the curve's ES algorithm; OKP keys with Ed25519.
 *
 * A secret that is no such key fails every token request of the client with `internal_error`,
 * whose description (logged, not returned) says what is wrong. Errors never include key material.
 */
export async function importClientPrivateKey(secret: string, clientName: string): Promise<ClientPrivateKey> {
  try {
    return await importPrivateKey(secret);
  } catch (error) {
    if (!(error instanceof UnusableKey)) throw error;
    throw new BrokerError(
      'internal_error',
      `Client ${clientName} uses private_key_jwt, but its secret is not a usable private key: ${error.message}`,
      error.cause === undefined ? {} : { cause: error.cause },
    );
  }
}

/**
 * Local runs: every literal private key (`clientSecret: { "value": ... }` of a `private_key_jwt`
 * client) is imported once before the broker serves, so a wrong one stops the start with an error
 * naming its field instead of failing every request.
 */
export async function checkLiteralPrivateKeys(config: BrokerConfig): Promise<void> {
  for (const [index, client] of config.clients.entries()) {
    const secret = client.clientSecret;
    if (client.authMethod !== 'private_key_jwt' || secret?.kind !== 'literal') continue;
    try {
      await importPrivateKey(secret.value);
    } catch (error) {
      if (!(error instanceof UnusableKey)) throw error;
      throw new ConfigError(
        `clients[${index}].clientSecret.value`,
        `is not a usable private key for private_key_jwt: ${error.message}`,
      );
    }
  }
}

async function importPrivateKey(secret: string): Promise<ClientPrivateKey> {
  const jwk = toPrivateJwk(secret.trim());
  const algorithm = importAlgorithm(jwk);
  const {
    kid,
    alg: _alg,
    use: _use,
    key_ops: _ops,
    ...material
  } = jwk as NodeJwk & { kid?: string; alg?: string; use?: string; key_ops?: string[] };
  const thumbprints: Record<string, string> = {};
  for (const name of ['x5t', 'x5t#S256']) {
    const value = (jwk as Record<string, unknown>)[name];
    if (value === undefined) continue;
    // SHA-1 and SHA-256 thumbprints, base64url: 27 and 43 characters.
    if (typeof value !== 'string' || !/^[\w-]{27}(?:[\w-]{16})?$/.test(value)) {
      throw new UnusableKey(`its ${name} is not a base64url certificate thumbprint`);
    }
    thumbprints[name] = value;
  }
  try {
    const key = await webcrypto.subtle.importKey('jwk', material as webcrypto.JsonWebKey, algorithm, false, ['sign']);
    return {
      key,
      ...(typeof kid === 'string' ? { kid } : {}),
      ...(Object.keys(thumbprints).length ? { thumbprints } : {}),
    };
  } catch (error) {
    throw new UnusableKey(`the JWK could not be imported (${(error as Error).name})`, {
      cause: new Error((error as Error).name),
    });
  }
}

function toPrivateJwk(secret: string): NodeJwk & { kid?: string; alg?: string } {
  if (secret.startsWith('{')) {
    let jwk: unknown;
    try {
      jwk = JSON.parse(secret);
    } catch {
      // Not JSON.parse's message: it quotes the text around the error, which is key material.
      throw new UnusableKey(`it starts like JSON but is not valid JSON; ${EXPECTED}`);
    }
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
      throw new UnusableKey(`it is JSON but not a JWK object; ${EXPECTED}`);
    }
    if (typeof (jwk as NodeJwk).kty !== 'string') {
      throw new UnusableKey(`it is a JSON object without "kty", not a JWK; ${EXPECTED}`);
    }
    if (typeof (jwk as NodeJwk).d !== 'string') {
      throw new UnusableKey('it is a JWK without "d": a public key, not a private one');
    }
    return jwk as NodeJwk;
  }
  if (!secret.startsWith('-----BEGIN')) throw new UnusableKey(`it is neither PEM nor JSON; ${EXPECTED}`);
  try {
    return createPrivateKey(secret).export({ format: 'jwk' });
  } catch (error) {
    // Reduced to its code: nothing here needs Node's message.
    const code = (error as { code?: string }).code ?? 'ERR_INVALID_KEY';
    throw new UnusableKey(`its PEM could not be read as a private key (${code}); ${EXPECTED}`, {
      cause: new Error(code),
    });
  }
}

type SignAlgorithm = webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams | { name: 'Ed25519' };

function importAlgorithm(jwk: NodeJwk & { alg?: string }): SignAlgorithm {
  switch (jwk.kty) {
    case 'RSA': {
      const alg = jwk.alg ?? 'RS256';
      const match = typeof alg === 'string' ? /^(RS|PS)(256|384|512)$/.exec(alg) : null;
      if (!match) throw new UnusableKey(`its RSA JWK alg ${quoteInput(alg)} is not supported (RS256..512, PS256..512)`);
      return { name: match[1] === 'PS' ? 'RSA-PSS' : 'RSASSA-PKCS1-v1_5', hash: `SHA-${match[2]}` };
    }
    case 'EC':
      if (jwk.crv !== 'P-256' && jwk.crv !== 'P-384' && jwk.crv !== 'P-521') {
        throw new UnusableKey(`its EC curve ${quoteInput(jwk.crv)} is not supported (P-256, P-384, P-521)`);
      }
      return { name: 'ECDSA', namedCurve: jwk.crv };
    case 'OKP':
      if (jwk.crv !== 'Ed25519')
        throw new UnusableKey(`its OKP curve ${quoteInput(jwk.crv)} is not supported (Ed25519)`);
      return { name: 'Ed25519' };
    default:
      throw new UnusableKey(`its key type ${quoteInput(jwk.kty)} is not supported (RSA, EC, OKP)`);
  }
}
