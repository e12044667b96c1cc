import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeScopes, SCOPE_TOKEN_PATTERN } from '../../../lambda/shared/oauth-syntax.ts';

describe('Function: normalizeScopes', () => {
  it('sorts scopes and drops duplicates, so equal requests look equal', () => {
    // Act
    const scopes = normalizeScopes(['write', 'read', 'write']);

    // Assess
    expect(scopes).toEqual(['read', 'write']);
  });

  it('gives one form for every order and repetition of the same set', () => {
    const scope = fc.stringMatching(SCOPE_TOKEN_PATTERN);
    fc.assert(
      fc.property(fc.array(scope, { maxLength: 8 }), (scopes) => {
        const shuffled = [...scopes].reverse().concat(scopes);
        expect(normalizeScopes(shuffled)).toEqual(normalizeScopes(scopes));
        expect(new Set(normalizeScopes(scopes))).toEqual(new Set(scopes));
      }),
      { seed: 7, numRuns: 200 },
    );
  });
});
