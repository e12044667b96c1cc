import { inspect } from 'node:util';

/**
 * Everything an error could reveal once it is logged or returned: its message, description, JSON
 * form and the inspected cause chain. Assert what it must say (the client or secret name) next to
 * what it must not: a text that says nothing would pass every "not.toContain".
 */
export function everythingSaidAbout(error: unknown): string {
  const parts: string[] = [inspect(error, { depth: 10 })];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 10; depth++) {
    if (current instanceof Error) parts.push(current.message, String(current.stack));
    const description = (current as { description?: unknown }).description;
    if (typeof description === 'string') parts.push(description);
    parts.push(safeJson(current));
    current = (current as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return '';
  }
}
