import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../lambda/broker/core/config.ts';
import { sharedCacheSettingsFrom } from '../../../../lambda/broker/handler/shared-cache-settings.ts';
import { DEFAULT_CACHE_NAMESPACE, ENV } from '../../../../lambda/shared/contract.ts';

describe('Function: sharedCacheSettingsFrom', () => {
  it('is memory only when neither the table nor the key is set', () => {
    expect(sharedCacheSettingsFrom({})).toBeUndefined();
  });

  it('reads the table, the key and the namespace', () => {
    // Act
    const settings = sharedCacheSettingsFrom({
      [ENV.tokenCacheTable]: 'tokens',
      [ENV.tokenCacheKeyId]: 'alias/tokens',
      [ENV.tokenCacheNamespace]: 'prod/payments',
    });

    // Assess
    expect(settings).toEqual({ tableName: 'tokens', keyId: 'alias/tokens', namespace: 'prod/payments' });
  });

  it('uses the documented default namespace when none is set', () => {
    const settings = sharedCacheSettingsFrom({ [ENV.tokenCacheTable]: 't', [ENV.tokenCacheKeyId]: 'k' });

    expect(settings?.namespace).toBe(DEFAULT_CACHE_NAMESPACE);
  });

  it.each([
    [{ [ENV.tokenCacheTable]: 'tokens' }, ENV.tokenCacheKeyId],
    [{ [ENV.tokenCacheKeyId]: 'alias/tokens' }, ENV.tokenCacheTable],
  ])('fails the cold start naming the missing variable when only one is set (%j)', (env, missing) => {
    // Act
    const error = (() => {
      try {
        sharedCacheSettingsFrom(env);
      } catch (e) {
        return e;
      }
      return undefined;
    })();

    // Assess
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe(missing);
  });

  it('refuses a namespace that could not be an encryption-context value', () => {
    expect(() =>
      sharedCacheSettingsFrom({
        [ENV.tokenCacheTable]: 't',
        [ENV.tokenCacheKeyId]: 'k',
        [ENV.tokenCacheNamespace]: 'a b',
      }),
    ).toThrow(ENV.tokenCacheNamespace);
  });
});
