import { describe, expect, it } from 'vitest';
import { CacheKeys } from '../../../../lambda/broker/core/cache-key.ts';
import { clientConfig } from '../support/client-config.ts';

describe('Class: CacheKeys', () => {
  const mtls = { authMethod: 'tls_client_auth', mtlsTokenEndpoint: 'https://mtls.as.example.test/oauth2/token' };

  it('gives the same client and scopes the same key', () => {
    // Prepare
    const keys = new CacheKeys('default');

    // Act
    const first = keys.of(clientConfig(mtls), ['read']);
    const second = keys.of(clientConfig(mtls), ['read']);

    // Assess
    expect(second.key).toBe(first.key);
  });

  it('gives a client another key when its mutual TLS endpoint changes', () => {
    // Prepare
    const keys = new CacheKeys('default');

    // Act
    const before = keys.of(clientConfig(mtls), ['read']);
    const after = keys.of(
      clientConfig({ ...mtls, mtlsTokenEndpoint: 'https://mtls-eu.as.example.test/oauth2/token' }),
      ['read'],
    );
    const withoutAlias = keys.of(clientConfig({ authMethod: 'tls_client_auth' }), ['read']);

    // Assess
    expect(new Set([before.key, after.key, withoutAlias.key]).size).toBe(3);
  });
});
