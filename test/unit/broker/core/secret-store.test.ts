import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SecretSource } from '../../../../lambda/broker/core/config.ts';
import { BrokerError } from '../../../../lambda/broker/core/errors.ts';
import { SecretStore } from '../../../../lambda/broker/core/secret-store.ts';
import { everythingSaidAbout } from '../../../support/leaks.ts';
import { FakeSecretReader } from '../support/fake-secret-reader.ts';

const TTL_MS = 300_000;
const now = () => Date.now();
const shopSecret: SecretSource = { kind: 'secretsManager', secretId: 'shop/m2m-client' };

function storeOver(reader: FakeSecretReader): SecretStore {
  return new SecretStore(reader, { ttlMs: TTL_MS, now });
}

describe('Class: SecretStore', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2025-01-01T00:00:00Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  describe('Method: get', () => {
    it('returns a literal secret without reading anything', async () => {
      // Prepare
      const reader = new FakeSecretReader();

      // Act
      const version = await storeOver(reader).get({ kind: 'literal', value: 'local-secret' });

      // Assess
      expect(version).toEqual({ value: 'local-secret', versionId: 'literal' });
      expect(reader.reads).toEqual([]);
    });

    it('reads the AWSCURRENT version and returns the cached value before the TTL ends', async () => {
      // Prepare
      const reader = new FakeSecretReader().put('shop/m2m-client', 'AWSCURRENT', 'secret-v1', 'v1');
      const store = storeOver(reader);
      await store.get(shopSecret);
      reader.put('shop/m2m-client', 'AWSCURRENT', 'secret-v2', 'v2');
      vi.advanceTimersByTime(TTL_MS - 1);

      // Act
      const version = await store.get(shopSecret);

      // Assess
      expect(version).toEqual({ value: 'secret-v1', versionId: 'v1' });
      expect(reader.reads).toEqual([{ secretId: 'shop/m2m-client', stage: 'AWSCURRENT' }]);
    });

    it('reads the secret again once the TTL has passed', async () => {
      // Prepare
      const reader = new FakeSecretReader().put('shop/m2m-client', 'AWSCURRENT', 'secret-v1', 'v1');
      const store = storeOver(reader);
      await store.get(shopSecret);
      reader.put('shop/m2m-client', 'AWSCURRENT', 'secret-v2', 'v2');
      vi.advanceTimersByTime(TTL_MS);

      // Act
      const version = await store.get(shopSecret);

      // Assess
      expect(version).toEqual({ value: 'secret-v2', versionId: 'v2' });
      expect(reader.reads).toHaveLength(2);
    });

    it('shares one read among concurrent requests', async () => {
      // Prepare
      const reader = new FakeSecretReader().put('shop/m2m-client', 'AWSCURRENT', 'secret-v1', 'v1');
      const store = storeOver(reader);
      const release = reader.hold();

      // Act
      const pending = [store.get(shopSecret), store.get(shopSecret), store.get(shopSecret)];
      release();
      const versions = await Promise.all(pending);

      // Assess
      expect(versions.map((v) => v.value)).toEqual(['secret-v1', 'secret-v1', 'secret-v1']);
      expect(reader.reads).toHaveLength(1);
    });

    it('does not cache a failed read', async () => {
      // Prepare
      const reader = new FakeSecretReader().put('shop/m2m-client', 'AWSCURRENT', 'secret-v1', 'v1');
      reader.failNext(new BrokerError('secret_store_unavailable', 'Secrets Manager is unavailable'));
      const store = storeOver(reader);
      const failed = store.get(shopSecret);

      // Act
      await expect(failed).rejects.toThrow('Secrets Manager is unavailable');
      const version = await store.get(shopSecret);

      // Assess
      expect(version.value).toBe('secret-v1');
      expect(reader.reads).toHaveLength(2);
    });

    it('fails with internal_error when the secret has no AWSCURRENT version', async () => {
      // Prepare
      const store = storeOver(new FakeSecretReader());

      // Act
      const outcome = store.get(shopSecret);

      // Assess
      await expect(outcome).rejects.toMatchObject({ code: 'internal_error' });
    });

    it('caches each field of a JSON secret on its own', async () => {
      // Prepare
      const reader = new FakeSecretReader().put(
        'shop/keys',
        'AWSCURRENT',
        JSON.stringify({ clientSecret: 'json-secret', other: 'other-secret' }),
        'v1',
      );
      const store = storeOver(reader);

      // Act
      const first = await store.get({ kind: 'secretsManager', secretId: 'shop/keys', field: 'clientSecret' });
      const second = await store.get({ kind: 'secretsManager', secretId: 'shop/keys', field: 'other' });

      // Assess
      expect(first).toEqual({ value: 'json-secret', versionId: 'v1' });
      expect(second).toEqual({ value: 'other-secret', versionId: 'v1' });
    });

    it.each([
      ['is not JSON', 'plain-text-secret-9d2e', 'is not a JSON object'],
      ['lacks the field', JSON.stringify({ password: 'plain-text-secret-9d2e' }), 'has no non-empty string field'],
      ['has an empty field', JSON.stringify({ clientSecret: '', x: 'plain-text-secret-9d2e' }), 'has no non-empty'],
      ['has a field that is not a string', JSON.stringify({ clientSecret: { v: 'plain-text-secret-9d2e' } }), 'has no'],
    ])('explains, without quoting it, that a secret %s', async (_case, text, explanation) => {
      // Prepare
      const reader = new FakeSecretReader().put('shop/keys', 'AWSCURRENT', text, 'v1');
      const store = storeOver(reader);

      // Act
      const error = await store
        .get({ kind: 'secretsManager', secretId: 'shop/keys', field: 'clientSecret' })
        .catch((e: unknown) => e);

      // Assess
      expect(error).toBeInstanceOf(BrokerError);
      expect((error as BrokerError).code).toBe('internal_error');
      expect((error as BrokerError).description).toContain(explanation);
      const said = everythingSaidAbout(error);
      expect(said).toContain('shop/keys');
      expect(said).not.toContain('plain-text-secret-9d2e');
    });

    it('refuses an empty plain-string secret', async () => {
      // Prepare
      const reader = new FakeSecretReader().put('shop/m2m-client', 'AWSCURRENT', '', 'v1');

      // Act
      const outcome = storeOver(reader).get(shopSecret);

      // Assess
      await expect(outcome).rejects.toMatchObject({
        code: 'internal_error',
        description: expect.stringContaining('empty'),
      });
    });
  });

  describe('Method: reloadAfterRejection', () => {
    it('returns the new AWSCURRENT version when the secret was rotated', async () => {
      // Prepare
      const reader = new FakeSecretReader().put('shop/m2m-client', 'AWSCURRENT', 'secret-v1', 'v1');
      const store = storeOver(reader);
      const rejected = await store.get(shopSecret);
      reader.put('shop/m2m-client', 'AWSCURRENT', 'secret-v2', 'v2');

      // Act
      const replacement = await store.reloadAfterRejection(shopSecret, rejected);

      // Assess
      expect(replacement).toEqual({ value: 'secret-v2', versionId: 'v2' });
      expect(await store.get(shopSecret)).toEqual({ value: 'secret-v2', versionId: 'v2' });
    });

    it('returns the AWSPENDING version while AWSCURRENT is unchanged, and keeps it', async () => {
      // Prepare
      const reader = new FakeSecretReader().put('shop/m2m-client', 'AWSCURRENT', 'secret-v1', 'v1');
      const store = storeOver(reader);
      const rejected = await store.get(shopSecret);
      reader.put('shop/m2m-client', 'AWSPENDING', 'secret-v2', 'v2');

      // Act
      const replacement = await store.reloadAfterRejection(shopSecret, rejected);

      // Assess
      expect(replacement).toEqual({ value: 'secret-v2', versionId: 'v2' });
      expect(await store.get(shopSecret)).toEqual({ value: 'secret-v2', versionId: 'v2' });
    });

    it('returns nothing when there is no AWSPENDING version', async () => {
      // Prepare
      const reader = new FakeSecretReader().put('shop/m2m-client', 'AWSCURRENT', 'secret-v1', 'v1');
      const store = storeOver(reader);
      const rejected = await store.get(shopSecret);

      // Act
      const replacement = await store.reloadAfterRejection(shopSecret, rejected);

      // Assess
      expect(replacement).toBeUndefined();
      expect(reader.reads.map((r) => r.stage)).toEqual(['AWSCURRENT', 'AWSCURRENT', 'AWSPENDING']);
    });

    it('returns nothing when AWSPENDING is the rejected version', async () => {
      // Prepare
      const reader = new FakeSecretReader()
        .put('shop/m2m-client', 'AWSCURRENT', 'secret-v1', 'v1')
        .put('shop/m2m-client', 'AWSPENDING', 'secret-v1', 'v1');
      const store = storeOver(reader);
      const rejected = await store.get(shopSecret);

      // Act
      const replacement = await store.reloadAfterRejection(shopSecret, rejected);

      // Assess
      expect(replacement).toBeUndefined();
    });

    it('returns nothing for a literal secret', async () => {
      // Prepare
      const reader = new FakeSecretReader();
      const source: SecretSource = { kind: 'literal', value: 'local-secret' };
      const store = storeOver(reader);

      // Act
      const replacement = await store.reloadAfterRejection(source, await store.get(source));

      // Assess
      expect(replacement).toBeUndefined();
      expect(reader.reads).toEqual([]);
    });
  });
});
