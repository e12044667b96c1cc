import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import {
  DecryptCommand,
  GenerateDataKeyCommand,
  type GenerateDataKeyCommandOutput,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { CACHE_ENCRYPTION_CONTEXT } from '../../shared/contract.ts';
import type { CachedToken } from '../core/token-cache.ts';
import { TokenStoreError } from './token-store-error.ts';

/** An access token as stored: AES-256-GCM under a KMS data key, and that data key as KMS encrypted it. */
export interface SealedToken {
  readonly ciphertext: Uint8Array;
  readonly iv: Uint8Array;
  readonly tag: Uint8Array;
  readonly encryptedDataKey: Uint8Array;
  /** ARN of the KMS key that generated the data key (as `GenerateDataKey` answered). */
  readonly keyArn: string;
}

/** Where a sealed token belongs: a ciphertext opens only for the same namespace, item and version. */
export interface EnvelopeBinding {
  readonly namespace: string;
  /** The item's partition key. */
  readonly item: string;
  /** The token version the item holds with this token. */
  readonly version: number;
}

/** The token's fields kept in clear next to the ciphertext; authenticated, not encrypted. */
export type TokenMetadata = Omit<CachedToken, 'accessToken'>;

export interface TokenEnvelopeOptions {
  readonly kms: KMSClient;
  /** The KMS key: key id, key ARN, alias name or alias ARN. */
  readonly keyId: string;
}

const GCM_IV_BYTES = 12;
const GCM_TAG_BYTES = 16;
const DATA_KEY_BYTES = 32;
/** KMS answers these when a ciphertext is not one this key, with this context, can open: a miss. */
const UNOPENABLE = new Set(['InvalidCiphertextException', 'IncorrectKeyException']);
/** Versions the AAD layout, so a later layout never opens a blob sealed under this one. */
const AAD_LAYOUT = 'm2m-token-broker/token/1';

/**
 * Envelope encryption of access tokens for the fleet cache: a fresh KMS data key per sealed token
 * (`GenerateDataKey`, AES_256), the token encrypted locally with AES-256-GCM, only the encrypted
 * data key stored.
 *
 * Two bindings hold a ciphertext to its place:
 * - the KMS encryption context ({@link CACHE_ENCRYPTION_CONTEXT}: namespace and item), which the
 *   broker role's grant is also conditioned on;
 * - the GCM additional authenticated data: namespace, item, token version, token type, scope and
 *   the three times. Swapping a clear field, or copying another item's (or an older version's)
 *   blob in, fails authentication even where KMS would not check the context.
 *
 * Decrypt pins `KeyId` to the configured key, so a blob sealed under any other key is never
 * opened. KMS automatic (or on-demand) key rotation keeps every earlier key material of the same
 * key id: Decrypt with that key id opens blobs sealed before and after a rotation alike, so
 * rotation does not turn cached tokens into misses.
 *
 * The plaintext data key is zeroed as soon as the cipher holds it.
 */
export class TokenEnvelope {
  readonly #kms: KMSClient;
  readonly #keyId: string;
  /** The configured key's id when configuration names it (id or key ARN); unknown for an alias. */
  readonly #ownKeyId: string | undefined;

  constructor(options: TokenEnvelopeOptions) {
    this.#kms = options.kms;
    this.#keyId = options.keyId;
    this.#ownKeyId = keyIdOf(options.keyId);
  }

  /**
   * Encrypts the token's access token for `binding`.
   * @throws TokenStoreError when KMS fails or refuses
   */
  async seal(token: CachedToken, binding: EnvelopeBinding): Promise<SealedToken> {
    const dataKey = await this.#generateDataKey(binding);
    const { plaintext } = dataKey;
    try {
      const iv = randomBytes(GCM_IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', plaintext, iv, { authTagLength: GCM_TAG_BYTES });
      plaintext.fill(0);
      cipher.setAAD(additionalData(token, binding));
      const ciphertext = Buffer.concat([cipher.update(token.accessToken, 'utf8'), cipher.final()]);
      return {
        ciphertext,
        iv,
        tag: cipher.getAuthTag(),
        encryptedDataKey: dataKey.encrypted,
        keyArn: dataKey.keyArn,
      };
    } finally {
      plaintext.fill(0);
    }
  }

  /**
   * Decrypts a sealed access token; `undefined` when it cannot be opened here (another key,
   * another item or namespace, a changed clear field, tampering): a miss, not a failure.
   * @throws TokenStoreError when the KMS call itself fails (unreachable, throttled, denied)
   */
  async open(sealed: SealedToken, metadata: TokenMetadata, binding: EnvelopeBinding): Promise<string | undefined> {
    // KMS would refuse it anyway (IncorrectKeyException); asking costs a call, and moto answers
    // AccessDeniedException there instead, which would read as a failing tier.
    if (this.#ownKeyId !== undefined && keyIdOf(sealed.keyArn) !== this.#ownKeyId) return undefined;
    const plaintext = await this.#decryptDataKey(sealed.encryptedDataKey, binding);
    if (plaintext === undefined) return undefined;
    try {
      // Node accepts GCM tags down to 4 bytes: a stored short tag would weaken the authentication.
      if (plaintext.length !== DATA_KEY_BYTES || sealed.iv.length !== GCM_IV_BYTES) return undefined;
      if (sealed.tag.length !== GCM_TAG_BYTES) return undefined;
      const decipher = createDecipheriv('aes-256-gcm', plaintext, sealed.iv, { authTagLength: GCM_TAG_BYTES });
      plaintext.fill(0);
      decipher.setAAD(additionalData(metadata, binding));
      decipher.setAuthTag(sealed.tag);
      return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8');
    } catch {
      // A wrong tag length, a tampered ciphertext or AAD that does not match: unreadable, a miss.
      return undefined;
    } finally {
      plaintext.fill(0);
    }
  }

  async #generateDataKey(
    binding: EnvelopeBinding,
  ): Promise<{ plaintext: Uint8Array; encrypted: Uint8Array; keyArn: string }> {
    let out: GenerateDataKeyCommandOutput;
    try {
      out = await this.#kms.send(
        new GenerateDataKeyCommand({
          KeyId: this.#keyId,
          KeySpec: 'AES_256',
          EncryptionContext: encryptionContext(binding),
        }),
      );
    } catch (error) {
      throw new TokenStoreError('GenerateDataKey', error);
    }
    const { Plaintext: plaintext, CiphertextBlob: encrypted, KeyId: keyArn } = out;
    if (plaintext?.length !== DATA_KEY_BYTES || !encrypted || !keyArn) {
      plaintext?.fill(0);
      throw new TokenStoreError('GenerateDataKey', new Error('KMS answered without a 256-bit data key'));
    }
    return { plaintext, encrypted, keyArn };
  }

  async #decryptDataKey(encrypted: Uint8Array, binding: EnvelopeBinding): Promise<Uint8Array | undefined> {
    try {
      const out = await this.#kms.send(
        new DecryptCommand({
          CiphertextBlob: encrypted,
          KeyId: this.#keyId,
          EncryptionContext: encryptionContext(binding),
        }),
      );
      return out.Plaintext;
    } catch (error) {
      if (UNOPENABLE.has((error as { name?: string }).name ?? '')) return undefined;
      throw new TokenStoreError('Decrypt', error);
    }
  }
}

function encryptionContext(binding: EnvelopeBinding): Record<string, string> {
  return {
    [CACHE_ENCRYPTION_CONTEXT.namespaceKey]: binding.namespace,
    [CACHE_ENCRYPTION_CONTEXT.itemKey]: binding.item,
  };
}

/** A JSON array in a fixed order: unambiguous, whatever the strings hold. */
function additionalData(metadata: TokenMetadata, binding: EnvelopeBinding): Buffer {
  return Buffer.from(
    JSON.stringify([
      AAD_LAYOUT,
      binding.namespace,
      binding.item,
      binding.version,
      metadata.tokenType,
      metadata.scope,
      metadata.obtainedAt,
      metadata.refreshAt,
      metadata.expiresAt,
    ]),
    'utf8',
  );
}

/**
 * The key id in a key id or key ARN (`arn:aws:kms:region:account:key/ID`); `undefined` for an
 * alias, whose key only KMS knows. Multi-Region replicas share the id, so they match.
 */
function keyIdOf(keyIdOrArn: string): string | undefined {
  if (keyIdOrArn.startsWith('alias/')) return undefined;
  if (!keyIdOrArn.startsWith('arn:')) return keyIdOrArn;
  const resource = keyIdOrArn.split(':').slice(5).join(':');
  return resource.startsWith('key/') ? resource.slice('key/'.length) : undefined;
}
