import { randomBytes } from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { type EnvelopeBinding, TokenEnvelope } from '../../../../lambda/broker/adapters/token-envelope.ts';
import { TokenStoreError } from '../../../../lambda/broker/adapters/token-store-error.ts';
import type { CachedToken } from '../../../../lambda/broker/core/token-cache.ts';
import { CACHE_ENCRYPTION_CONTEXT } from '../../../../lambda/shared/contract.ts';
import { everythingSaidAbout } from '../../../support/leaks.ts';

const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
const KEY_ARN = `arn:aws:kms:eu-west-1:111122223333:key/${KEY_ID}`;
const BINDING: EnvelopeBinding = { namespace: 'stack-a', item: 'item-1', version: 3 };
const TOKEN: CachedToken = {
  accessToken: 'secret-access-token',
  tokenType: 'Bearer',
  scope: 'read',
  obtainedAt: 1_700_000_000_000,
  refreshAt: 1_700_002_700_000,
  expiresAt: 1_700_003_600_000,
};
const { accessToken: _secret, ...METADATA } = TOKEN;

/**
 * A KMS that hands out data keys and gives them back for any encryption context: the case a real
 * KMS (and moto) cannot produce, for the GCM binding to prove itself alone. `fail` makes every
 * call throw an error of that name.
 */
function contextBlindKms(options: { fail?: string; keyArn?: string } = {}) {
  const issued = new Map<string, Uint8Array>();
  const handedOut: Uint8Array[] = [];
  const calls: (GenerateDataKeyCommand | DecryptCommand)[] = [];
  const fake = {
    calls,
    handedOut,
    client: {
      send: async (command: GenerateDataKeyCommand | DecryptCommand) => {
        calls.push(command);
        if (options.fail) throw Object.assign(new Error(`refused: ${options.fail}`), { name: options.fail });
        if (command instanceof GenerateDataKeyCommand) {
          const key = randomBytes(32);
          const blob = randomBytes(64);
          issued.set(blob.toString('hex'), Uint8Array.from(key));
          handedOut.push(key);
          return { Plaintext: key, CiphertextBlob: blob, KeyId: options.keyArn ?? KEY_ARN };
        }
        const known = issued.get(Buffer.from(command.input.CiphertextBlob as Uint8Array).toString('hex'));
        if (!known) throw Object.assign(new Error('not ours'), { name: 'InvalidCiphertextException' });
        const copy = Uint8Array.from(known);
        handedOut.push(copy);
        return { Plaintext: copy, KeyId: options.keyArn ?? KEY_ARN };
      },
    } as unknown as KMSClient,
  };
  return fake;
}

describe('Class: TokenEnvelope', () => {
  it('opens what it sealed, for the same item and version', async () => {
    // Prepare
    const kms = contextBlindKms();
    const envelope = new TokenEnvelope({ kms: kms.client, keyId: KEY_ID });
    const sealed = await envelope.seal(TOKEN, BINDING);

    // Act
    const opened = await envelope.open(sealed, METADATA, BINDING);

    // Assess
    expect(opened).toBe(TOKEN.accessToken);
    expect(Buffer.from(sealed.ciphertext).includes(TOKEN.accessToken)).toBe(false);
    expect(sealed.keyArn).toBe(KEY_ARN);
  });

  it('asks KMS for a fresh AES-256 data key per seal, bound to the namespace and item', async () => {
    // Prepare
    const kms = contextBlindKms();
    const envelope = new TokenEnvelope({ kms: kms.client, keyId: KEY_ID });

    // Act
    const [first, second] = [await envelope.seal(TOKEN, BINDING), await envelope.seal(TOKEN, BINDING)];

    // Assess
    expect(Buffer.from(first.encryptedDataKey).equals(Buffer.from(second.encryptedDataKey))).toBe(false);
    expect(kms.calls[0]?.input).toEqual({
      KeyId: KEY_ID,
      KeySpec: 'AES_256',
      EncryptionContext: {
        [CACHE_ENCRYPTION_CONTEXT.namespaceKey]: BINDING.namespace,
        [CACHE_ENCRYPTION_CONTEXT.itemKey]: BINDING.item,
      },
    });
  });

  it('pins Decrypt to the configured key and passes the same context', async () => {
    // Prepare
    const kms = contextBlindKms();
    const envelope = new TokenEnvelope({ kms: kms.client, keyId: KEY_ARN });
    const sealed = await envelope.seal(TOKEN, BINDING);

    // Act
    await envelope.open(sealed, METADATA, BINDING);

    // Assess
    const decrypt = kms.calls.find((call) => call instanceof DecryptCommand);
    expect(decrypt?.input).toMatchObject({ KeyId: KEY_ARN, EncryptionContext: kms.calls[0]?.input.EncryptionContext });
  });

  it('zeroes every plaintext data key once used', async () => {
    // Prepare
    const kms = contextBlindKms();
    const envelope = new TokenEnvelope({ kms: kms.client, keyId: KEY_ID });

    // Act
    await envelope.open(await envelope.seal(TOKEN, BINDING), METADATA, BINDING);

    // Assess
    expect(kms.handedOut).toHaveLength(2);
    for (const key of kms.handedOut) expect(key.every((byte) => byte === 0)).toBe(true);
  });

  it.each<[string, Partial<EnvelopeBinding>]>([
    ['another item', { item: 'item-2' }],
    ['another namespace', { namespace: 'stack-b' }],
    ['another token version', { version: 2 }],
  ])('refuses a blob opened for %s, even where KMS ignores the context', async (_case, change) => {
    // Prepare
    const envelope = new TokenEnvelope({ kms: contextBlindKms().client, keyId: KEY_ID });
    const sealed = await envelope.seal(TOKEN, BINDING);

    // Act & Assess
    expect(await envelope.open(sealed, METADATA, { ...BINDING, ...change })).toBeUndefined();
  });

  it.each<[string, Partial<CachedToken>]>([
    ['scope', { scope: 'admin' }],
    ['obtainedAt', { obtainedAt: TOKEN.obtainedAt + 1 }],
    ['refreshAt', { refreshAt: TOKEN.refreshAt + 86_400_000 }],
    ['expiresAt', { expiresAt: TOKEN.expiresAt + 86_400_000 }],
  ])('refuses a blob whose clear %s was changed', async (_field, change) => {
    // Prepare
    const envelope = new TokenEnvelope({ kms: contextBlindKms().client, keyId: KEY_ID });
    const sealed = await envelope.seal(TOKEN, BINDING);

    // Act & Assess
    expect(await envelope.open(sealed, { ...METADATA, ...change }, BINDING)).toBeUndefined();
  });

  it('refuses a blob with a truncated tag or IV', async () => {
    // Prepare
    const envelope = new TokenEnvelope({ kms: contextBlindKms().client, keyId: KEY_ID });
    const sealed = await envelope.seal(TOKEN, BINDING);

    // Act
    const shortTag = await envelope.open({ ...sealed, tag: sealed.tag.subarray(0, 4) }, METADATA, BINDING);
    const shortIv = await envelope.open({ ...sealed, iv: sealed.iv.subarray(0, 8) }, METADATA, BINDING);

    // Assess
    expect([shortTag, shortIv]).toEqual([undefined, undefined]);
  });

  it('skips a blob sealed under another key without asking KMS', async () => {
    // Prepare
    const kms = contextBlindKms();
    const sealed = await new TokenEnvelope({ kms: kms.client, keyId: KEY_ID }).seal(TOKEN, BINDING);
    const reader = new TokenEnvelope({ kms: kms.client, keyId: 'arn:aws:kms:eu-west-1:111122223333:key/other' });

    // Act
    const opened = await reader.open(sealed, METADATA, BINDING);

    // Assess
    expect(opened).toBeUndefined();
    expect(kms.calls.filter((call) => call instanceof DecryptCommand)).toHaveLength(0);
  });

  it.each(['InvalidCiphertextException', 'IncorrectKeyException'])(
    'reads a blob KMS answers %s for as a miss',
    async (name) => {
      // Prepare: an alias, so only KMS can tell the key
      const sealed = await new TokenEnvelope({ kms: contextBlindKms().client, keyId: KEY_ID }).seal(TOKEN, BINDING);
      const reader = new TokenEnvelope({ kms: contextBlindKms({ fail: name }).client, keyId: 'alias/token-cache' });

      // Act & Assess
      expect(await reader.open(sealed, METADATA, BINDING)).toBeUndefined();
    },
  );

  it.each(['AccessDeniedException', 'ThrottlingException', 'KMSInvalidStateException', 'TimeoutError'])(
    'throws when Decrypt fails with %s: the tier is failing, not the item',
    async (name) => {
      // Prepare
      const sealed = await new TokenEnvelope({ kms: contextBlindKms().client, keyId: KEY_ID }).seal(TOKEN, BINDING);
      const reader = new TokenEnvelope({ kms: contextBlindKms({ fail: name }).client, keyId: KEY_ID });

      // Act
      const error = await reader.open(sealed, METADATA, BINDING).catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(TokenStoreError);
      expect(error).toMatchObject({ operation: 'Decrypt', errorName: name });
      expect(everythingSaidAbout(error)).not.toContain(TOKEN.accessToken);
    },
  );

  it('throws when GenerateDataKey fails, without the token in the error', async () => {
    // Prepare
    const envelope = new TokenEnvelope({ kms: contextBlindKms({ fail: 'ThrottlingException' }).client, keyId: KEY_ID });

    // Act
    const error = await envelope.seal(TOKEN, BINDING).catch((caught: unknown) => caught);

    // Assess
    expect(error).toMatchObject({ operation: 'GenerateDataKey', errorName: 'ThrottlingException' });
    expect(everythingSaidAbout(error)).not.toContain(TOKEN.accessToken);
  });
});
