/**
 * Syntax shared by the broker and the caller library. Dependency-free on purpose: the caller
 * library imports it without pulling any broker code into a consumer's bundle.
 */

/** A broker client name: a URL path segment and cache namespace. */
export const CLIENT_NAME_PATTERN = /^[a-z0-9-]{1,64}$/;

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) */
export const SCOPE_TOKEN_PATTERN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
