import { DEFAULT_CACHE_NAMESPACE, ENV } from '../../shared/contract.ts';
import { ConfigError } from '../core/config.ts';

/** Where the fleet cache lives, as the construct tells the function. */
export interface SharedCacheSettings {
  readonly tableName: string;
  readonly keyId: string;
  readonly namespace: string;
}

const NAMESPACE_PATTERN = /^[A-Za-z0-9._:/-]{1,128}$/;

/**
 * The fleet cache's settings from the environment: `TOKEN_CACHE_TABLE` and `TOKEN_CACHE_KEY_ID`
 * both set, or neither (memory only). One without the other is a cold-start error naming the
 * missing one, not a silent fallback.
 *
 * @throws ConfigError naming the variable
 */
export function sharedCacheSettingsFrom(
  env: Readonly<Record<string, string | undefined>>,
): SharedCacheSettings | undefined {
  const tableName = env[ENV.tokenCacheTable] || undefined;
  const keyId = env[ENV.tokenCacheKeyId] || undefined;
  if (tableName === undefined && keyId === undefined) return undefined;
  if (tableName === undefined || keyId === undefined) {
    const [unset, set] =
      tableName === undefined ? [ENV.tokenCacheTable, ENV.tokenCacheKeyId] : [ENV.tokenCacheKeyId, ENV.tokenCacheTable];
    throw new ConfigError(unset, `is not set, but ${set} is: set both, or neither for memory only`);
  }
  const namespace = env[ENV.tokenCacheNamespace] || DEFAULT_CACHE_NAMESPACE;
  if (!NAMESPACE_PATTERN.test(namespace)) {
    throw new ConfigError(ENV.tokenCacheNamespace, 'must be 1 to 128 letters, digits or . _ : / -');
  }
  return { tableName, keyId, namespace };
}
