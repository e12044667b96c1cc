/**
 * Syntax shared by the broker and the caller library. Dependency-free on purpose: the caller
 * library imports it without pulling any broker code into a consumer's bundle.
 */

/** A broker client name: a URL path segment and cache namespace. */
export const CLIENT_NAME_PATTERN = /^[a-z0-9-]{1,64}$/;

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) */
export const SCOPE_TOKEN_PATTERN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Host names (as `URL.hostname` spells them) for which plain `http:` is accepted: local runs and tests. */
export const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Sorted, de-duplicated scope list: the canonical form, so one scope set is one token and one cache entry. */
export function normalizeScopes(scopes: Iterable<string>): readonly string[] {
  return [...new Set(scopes)].sort();
}
