import { createPrivateKey, type JsonWebKey as NodeJwk, webcrypto } from 'node:crypto';
import { BrokerError } from '../core/errors.ts';

/** A private key ready for oauth4webapi's `PrivateKeyJwt` (RFC 7523 §2.2 client assertions). */
export interface ClientPrivateKey {
  readonly key: webcrypto.CryptoKey;
  readonly kid?: string;
}

/**
 * Imports the private key stored in a client's secret: a PKCS#8 / PKCS#1 / SEC1 PEM, or a private
 * JWK (JSON) whose optional `kid` and `alg` are honoured. RSA keys sign RS256 unless the JWK says
 * PS256/PS384/PS512/RS384/RS512; EC keys sign with the curve's ES algorithm; OKP keys with Ed25519.
 *
 * Errors never include the key material.
 */
export async function importClientPrivateKey(secret: string, clientName: string): Promise<ClientPrivateKey> {
  const jwk = toPrivateJwk(secret.trim(), clientName);
  const algorithm = importAlgorithm(jwk, clientName);
  const {
    kid,
    alg: _alg,
    use: _use,
    key_ops: _ops,
    ...material
  } = jwk as NodeJwk & { kid?: string; alg?: string; use?: string; key_ops?: string[] };
  try {
    const key = await webcrypto.subtle.importKey('jwk', material as webcrypto.JsonWebKey, algorithm, false, ['sign']);
    return kid === undefined ? { key } : { key, kid };
  } catch (error) {
    throw new BrokerError('internal_error', `The private key of client ${clientName} could not be imported`, {
      cause: new Error((error as Error).name),
    });
  }
}

function toPrivateJwk(secret: string, clientName: string): NodeJwk & { kid?: string; alg?: string } {
  if (secret.startsWith('{')) {
    let jwk: unknown;
    try {
      jwk = JSON.parse(secret);
    } catch {
      throw new BrokerError('internal_error', `The private key of client ${clientName} is neither PEM nor JSON (JWK)`);
    }
    if (typeof jwk !== 'object' || jwk === null || typeof (jwk as NodeJwk).d !== 'string') {
      throw new BrokerError('internal_error', `The JWK of client ${clientName} is not a private key (no "d")`);
    }
    return jwk as NodeJwk;
  }
  if (!secret.startsWith('-----BEGIN')) {
    throw new BrokerError('internal_error', `The private key of client ${clientName} is neither PEM nor JSON (JWK)`);
  }
  try {
    return createPrivateKey(secret).export({ format: 'jwk' });
  } catch (error) {
    // The cause is reduced to its code: Node's messages are safe, but nothing here needs them.
    throw new BrokerError('internal_error', `The PEM private key of client ${clientName} could not be parsed`, {
      cause: new Error((error as { code?: string }).code ?? 'ERR_INVALID_KEY'),
    });
  }
}

type SignAlgorithm = webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams | { name: 'Ed25519' };

function importAlgorithm(jwk: NodeJwk & { alg?: string }, clientName: string): SignAlgorithm {
  switch (jwk.kty) {
    case 'RSA': {
      const alg = jwk.alg ?? 'RS256';
      const match = /^(RS|PS)(256|384|512)$/.exec(alg);
      if (!match) throw new BrokerError('internal_error', `Client ${clientName}: unsupported RSA JWK alg ${alg}`);
      return { name: match[1] === 'PS' ? 'RSA-PSS' : 'RSASSA-PKCS1-v1_5', hash: `SHA-${match[2]}` };
    }
    case 'EC':
      if (jwk.crv !== 'P-256' && jwk.crv !== 'P-384' && jwk.crv !== 'P-521') {
        throw new BrokerError('internal_error', `Client ${clientName}: unsupported EC curve ${jwk.crv}`);
      }
      return { name: 'ECDSA', namedCurve: jwk.crv };
    case 'OKP':
      if (jwk.crv !== 'Ed25519') {
        throw new BrokerError('internal_error', `Client ${clientName}: unsupported OKP curve ${jwk.crv}`);
      }
      return { name: 'Ed25519' };
    default:
      throw new BrokerError('internal_error', `Client ${clientName}: unsupported key type ${jwk.kty}`);
  }
}
