import { describe, expect, it } from 'vitest';
import { ECHO_LIMIT, quoteInput } from '../../../../lambda/broker/core/quote-input.ts';

describe('Function: quoteInput', () => {
  it('quotes short input whole, as a JSON string literal', () => {
    // Act
    const quoted = quoteInput('sh"op\\');

    // Assess
    expect(quoted).toBe('"sh\\"op\\\\"');
    expect(JSON.parse(quoted)).toBe('sh"op\\');
  });

  it('cuts long input to the limit and says how long it was', () => {
    // Act
    const quoted = quoteInput('a'.repeat(1_000_000));

    // Assess
    expect(quoted).toBe(`"${'a'.repeat(ECHO_LIMIT)}"... (1000000 characters)`);
  });

  it('drops control, bidi, zero-width and separator characters and lone surrogates', () => {
    // Act
    const quoted = quoteInput('a\u0000\u001b[31m\u202e\u200b\u2028\ud800b\n');

    // Assess
    expect(quoted).toBe('"a[31mb"');
  });

  it('looks at a bounded prefix of input made only of unsafe characters', () => {
    // Act
    const quoted = quoteInput('\u0000'.repeat(1_000_000));

    // Assess
    expect(quoted).toBe('""... (1000000 characters)');
  });

  it('never splits a surrogate pair at the limit', () => {
    // Act
    const quoted = quoteInput(`a${'😀'.repeat(ECHO_LIMIT)}`);

    // Assess
    expect(JSON.parse(quoted.slice(0, quoted.indexOf('...')))).toBe(`a${'😀'.repeat((ECHO_LIMIT - 2) / 2)}`);
  });

  it.each([
    [null, 'null'],
    [['x'], 'an array'],
    [5, 'a value of type number'],
    [{ a: 1 }, 'a value of type object'],
  ])('names %j by its type, never by its content', (value, expected) => {
    // Act
    const quoted = quoteInput(value);

    // Assess
    expect(quoted).toBe(expected);
  });
});
