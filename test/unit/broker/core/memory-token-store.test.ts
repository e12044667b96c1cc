import { describe, expect, it } from 'vitest';
import type { CachedToken } from '../../../../lambda/broker/core/cached-token.ts';
import { MemoryTokenStore } from '../../../../lambda/broker/core/memory-token-store.ts';

const T0 = 1_700_000_000_000;

function token(accessToken: string, expiresAt: number): CachedToken {
  return { accessToken, tokenType: 'Bearer', scope: 'read', obtainedAt: T0, refreshAt: expiresAt - 1_000, expiresAt };
}

describe('Class: MemoryTokenStore', () => {
  it('returns a stored token until it expires, then nothing', () => {
    // Prepare
    let now = T0;
    const store = new MemoryTokenStore(() => now);
    store.set('k', token('a', T0 + 10_000));

    // Act
    const before = store.get('k');
    now = T0 + 10_000;
    const after = store.get('k');

    // Assess
    expect(before?.accessToken).toBe('a');
    expect(after).toBeUndefined();
  });

  it('never trades a token for one that expires sooner: a refresh that resumes late changes nothing', () => {
    // Prepare
    const store = new MemoryTokenStore(() => T0);
    store.set('k', token('newer', T0 + 3_600_000));

    // Act
    store.set('k', token('late', T0 + 1_800_000));

    // Assess
    expect(store.get('k')?.accessToken).toBe('newer');
  });
});
