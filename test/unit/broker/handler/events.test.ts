import { describe, expect, it } from 'vitest';
import { BrokerError } from '../../../../lambda/broker/core/errors.ts';
import { ECHO_LIMIT } from '../../../../lambda/broker/core/quote-input.ts';
import { classifyEvent, parseApiRequest, parseDirectRequest } from '../../../../lambda/broker/handler/events.ts';

/** A REST API proxy event as API Gateway sends it for GET /clients/shop/token (stage `v1`). */
function apiEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    resource: '/clients/shop/token',
    path: '/clients/shop/token',
    httpMethod: 'GET',
    headers: {},
    queryStringParameters: { scope: 'read' },
    multiValueQueryStringParameters: { scope: ['read'] },
    pathParameters: null,
    requestContext: { path: '/v1/clients/shop/token', stage: 'v1', resourcePath: '/clients/shop/token' },
    ...overrides,
  };
}

/** The invalid_request a parser throws, or a failure when it throws something else or nothing. */
function refusal(parse: () => unknown): BrokerError {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(BrokerError);
    expect((error as BrokerError).code).toBe('invalid_request');
    return error as BrokerError;
  }
  throw new Error('the parser accepted the event');
}

describe('Function: parseApiRequest', () => {
  it('reads the client from the resource, as the deployed API (one resource per client) sends it', () => {
    // Act
    const request = parseApiRequest(apiEvent());

    // Assess
    expect(request).toEqual({ client: 'shop', scopes: ['read'] });
  });

  it('reads the client from the path when the resource is templated and has no path parameters', () => {
    // Act
    const request = parseApiRequest(apiEvent({ resource: '/clients/{client}/token', queryStringParameters: null }));

    // Assess
    expect(request).toEqual({ client: 'shop' });
  });

  it('reads the client from the resource when the path carries a custom domain base path', () => {
    // Act
    const request = parseApiRequest(apiEvent({ path: '/broker/clients/shop/token' }));

    // Assess
    expect(request.client).toBe('shop');
  });

  it('accepts a trailing slash and a percent-encoded client segment', () => {
    // Act
    const request = parseApiRequest(apiEvent({ resource: '/clients/sh%6Fp/token/', path: '/clients/sh%6Fp/token/' }));

    // Assess
    expect(request.client).toBe('shop');
  });

  it.each([
    ['a prefix', '/x/clients/shop/token'],
    ['an absolute URL', 'http://x/clients/shop/token'],
    ['a protocol-relative path', '//x/clients/shop/token'],
    ['a suffix', '/clients/shop/token/x'],
  ])('refuses a path with %s: the route is anchored', (_case, path) => {
    // Act
    const error = refusal(() => parseApiRequest(apiEvent({ resource: path, path })));

    // Assess
    expect(error.description).toBe('The path must be /clients/{client}/token');
  });

  it.each([
    ['an array scope', { queryStringParameters: { scope: ['read'] } }, /^scope must be a string, not an array$/],
    [
      'a numeric scope',
      { queryStringParameters: { scope: 7 } },
      /^scope must be a string, not a value of type number$/,
    ],
    ['a string as the query map', { queryStringParameters: 'scope=read' }, /^queryStringParameters must be an object/],
    [
      'a string as the multi-value scope',
      { multiValueQueryStringParameters: { scope: 'read' } },
      /^multiValueQueryStringParameters\.scope must be an array of strings$/,
    ],
    ['a numeric path', { resource: 5, path: 5 }, /^resource must be a string or null/],
    ['a numeric client parameter', { pathParameters: { client: 5 } }, /^pathParameters\.client must be a string/],
    ['an array as path parameters', { pathParameters: ['shop'] }, /^pathParameters must be an object or null/],
    ['bad percent-encoding', { resource: '/clients/%E0%A4%A/token' }, /is not valid percent-encoding$/],
  ])('refuses %s with invalid_request naming the field', (_case, overrides, description) => {
    // Act
    const error = refusal(() => parseApiRequest(apiEvent(overrides)));

    // Assess
    expect(error.description).toMatch(description);
  });

  it('reads only own fields: inherited members such as constructor are not parameters', () => {
    // Prepare: maps as a hostile JSON document makes them, with keys named like Object.prototype members.
    const query = JSON.parse('{"constructor":"x","__proto__":"y","toString":"z"}') as Record<string, unknown>;

    // Act
    const request = parseApiRequest(apiEvent({ queryStringParameters: query, multiValueQueryStringParameters: query }));

    // Assess
    expect(request).toEqual({ client: 'shop' });
  });

  it('refuses a client segment that is not a client name, echoing no more than the limit', () => {
    // Prepare
    const name = `SHOP"\n${'x'.repeat(1_000_000)}`;

    // Act
    const error = refusal(() => parseApiRequest(apiEvent({ resource: `/clients/${name}/token`, path: null })));

    // Assess
    expect(error.description).toBe(
      `client "SHOP\\"${'x'.repeat(ECHO_LIMIT - 5)}"... (1000006 characters) must be a client name ([a-z0-9-]{1,64})`,
    );
  });

  it('refuses a method other than GET, quoting a bounded prefix of it', () => {
    // Act
    const error = refusal(() => parseApiRequest(apiEvent({ httpMethod: 'P'.repeat(10_000) })));

    // Assess
    expect(error.description.length).toBeLessThan(ECHO_LIMIT + 80);
    expect(error.description).toMatch(/^Method "P+"\.\.\. \(10000 characters\) is not allowed; use GET$/);
  });
});

describe('Function: parseDirectRequest', () => {
  it('reads the client and scopes', () => {
    // Act
    const request = parseDirectRequest({ client: 'shop', scopes: ['read'] });

    // Assess
    expect(request).toEqual({ client: 'shop', scopes: ['read'] });
  });

  it.each([
    ['a client name with capitals', { client: 'Shop' }, /^client "Shop" must be a client name/],
    ['a client name too long', { client: 'a'.repeat(65) }, /^client "a{64}"\.\.\. \(65 characters\) must be/],
    ['a numeric client', { client: 5 }, /^client must be a non-empty string$/],
    ['scopes holding a number', { client: 'shop', scopes: [1] }, /^scopes must be an array of scope tokens/],
    ['a long unknown field', { ['k'.repeat(500)]: 1 }, /^Unknown field "k{64}"\.\.\. \(500 characters\) \(known:/],
    ['an unknown field __proto__', JSON.parse('{"__proto__":{"client":"shop"}}'), /^Unknown field "__proto__"/],
  ])('refuses %s with invalid_request naming the problem', (_case, event, description) => {
    // Act
    const error = refusal(() => parseDirectRequest(event));

    // Assess
    expect(error.description).toMatch(description);
  });
});

describe('Function: classifyEvent', () => {
  it('takes an event shaped like API Gateway for one, whatever its field types', () => {
    // Act
    const invocation = classifyEvent(apiEvent({ queryStringParameters: { scope: ['read'] } }));

    // Assess
    expect(invocation.kind).toBe('api');
  });

  it('does not take an inherited warmup for a warm-up request', () => {
    // Act
    const invocation = classifyEvent(Object.create({ warmup: true }));

    // Assess
    expect(invocation.kind).toBe('direct');
  });
});
