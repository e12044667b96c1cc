/**
 * How many characters of a caller's (or a configuration's) input an error description or log line
 * may repeat. Input is echoed so a caller sees what was refused, never in full: a 1 MB client name
 * must not come back as a 1 MB error body and a 2 MB log line.
 */
export const ECHO_LIMIT = 64;

/**
 * Control, format (bidi overrides, zero-width), separator and lone surrogate characters: they could
 * forge or hide text in a terminal or a log viewer.
 */
const UNSAFE_CHARACTERS = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu;

/**
 * Input as it may appear in a message: at most its first {@link ECHO_LIMIT} UTF-16 code units,
 * unsafe characters removed, as a JSON string literal (quotes and backslashes escaped), followed by
 * `...` and the full length when it was cut. Anything that is not a string is named by its type.
 *
 * @example quoteInput('sh"op') === '"sh\\"op"'
 */
export function quoteInput(value: unknown): string {
  if (typeof value !== 'string') return describeType(value);
  let kept = '';
  let consumed = 0;
  // Bounded work: a megabyte of unsafe characters is looked at no further than this.
  const scanned = value.slice(0, ECHO_LIMIT * 4);
  for (const character of scanned) {
    const safe = character.replace(UNSAFE_CHARACTERS, '');
    if (kept.length + safe.length > ECHO_LIMIT) break;
    kept += safe;
    consumed += character.length;
  }
  return consumed < value.length ? `${JSON.stringify(kept)}... (${value.length} characters)` : JSON.stringify(kept);
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a value of type ${typeof value}`;
}
