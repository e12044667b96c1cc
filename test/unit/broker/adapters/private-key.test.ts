import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkLiteralPrivateKeys, importClientPrivateKey } from '../../../../lambda/broker/adapters/private-key.ts';
import { ConfigError } from '../../../../lambda/broker/core/config.ts';
import { BrokerError } from '../../../../lambda/broker/core/errors.ts';
import { everythingSaidAbout } from '../../../support/leaks.ts';
import { brokerConfig } from '../support/client-config.ts';

const ecKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const EC_PEM = ecKey.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
const EC_JWK = ecKey.privateKey.export({ format: 'jwk' });
/** The base64 body of the PEM: what must never appear in an error. */
const EC_PEM_BODY = EC_PEM.split('\n')[1] as string;

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

describe('Function: importClientPrivateKey', () => {
  it.each([
    ['a PEM (PKCS#8)', EC_PEM, undefined],
    ['a private JWK with a kid', JSON.stringify({ ...EC_JWK, kid: 'k-1', alg: 'ES256' }), 'k-1'],
  ])('imports %s as a signing key', async (_case, secret, kid) => {
    // Act
    const imported = await importClientPrivateKey(secret, 'shop');

    // Assess
    expect(imported.key.usages).toEqual(['sign']);
    expect(imported.kid).toBe(kid);
  });

  it.each([
    ['a client secret', 'password-0b6e1f', /it is neither PEM nor JSON; expected a PKCS#8, PKCS#1 or SEC1 PEM/],
    [
      'a public key PEM',
      ecKey.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      /its PEM could not be read as a private key \(ERR_\w+\)/,
    ],
    ['a truncated PEM', EC_PEM.slice(0, 120), /its PEM could not be read as a private key/],
    ['a public JWK', JSON.stringify(ecKey.publicKey.export({ format: 'jwk' })), /a JWK without "d": a public key/],
    [
      'a JSON object that is no JWK',
      JSON.stringify({ privateKey: EC_PEM, d: EC_JWK.d }),
      /it is a JSON object without "kty", not a JWK; expected a PKCS#8/,
    ],
    ['broken JSON', `{"kty":"EC","d":"${EC_JWK.d}"`, /it starts like JSON but is not valid JSON/],
    ['a JWK on an unsupported curve', JSON.stringify({ ...EC_JWK, crv: 'secp256k1' }), /EC curve "secp256k1"/],
    ['a JWK with a bad d', JSON.stringify({ ...EC_JWK, d: 'AAAA' }), /the JWK could not be imported \(DataError\)/],
  ])('refuses %s with internal_error saying what is wrong, without key material', async (_case, secret, problem) => {
    // Act
    const error = await failureOf(importClientPrivateKey(secret, 'shop'));

    // Assess
    expect(error).toBeInstanceOf(BrokerError);
    expect((error as BrokerError).code).toBe('internal_error');
    expect((error as BrokerError).description).toMatch(
      /^Client shop uses private_key_jwt, but its secret is not a usable private key: /,
    );
    expect((error as BrokerError).description).toMatch(problem);
    const said = everythingSaidAbout(error);
    expect(said).not.toContain(EC_PEM_BODY.slice(0, 20));
    expect(said).not.toContain(EC_JWK.d);
    expect(said).not.toContain('password-0b6e1f');
  });
});

describe('Function: checkLiteralPrivateKeys', () => {
  it('refuses a literal that is not a private key, naming its field and not quoting it', async () => {
    // Prepare
    const config = brokerConfig([
      { name: 'shop', authMethod: 'private_key_jwt', clientSecret: { value: EC_PEM } },
      { name: 'billing', authMethod: 'private_key_jwt', clientSecret: { value: 'hunter2-b5d1' } },
    ]);

    // Act
    const error = await failureOf(checkLiteralPrivateKeys(config));

    // Assess
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(
      /^Invalid broker configuration: clients\[1\]\.clientSecret\.value is not a usable private key for private_key_jwt: it is neither PEM nor JSON/,
    );
    expect(everythingSaidAbout(error)).not.toContain('hunter2-b5d1');
  });

  it('accepts usable literal keys and leaves secrets and Secrets Manager keys alone', async () => {
    // Prepare
    const config = brokerConfig([
      { name: 'shop', authMethod: 'private_key_jwt', clientSecret: { value: JSON.stringify(EC_JWK) } },
      { name: 'billing', authMethod: 'client_secret_post', clientSecret: { value: 'not-a-key' } },
      { name: 'payroll', authMethod: 'private_key_jwt', clientSecret: { secretId: 'payroll/key' } },
    ]);

    // Act
    const checked = checkLiteralPrivateKeys(config);

    // Assess
    await expect(checked).resolves.toBeUndefined();
  });
});
