import { describe, expect, it } from 'vitest';
import { type Credential, credentialsInRequest, credentialsInResponse, findLeaks } from './log-scan.ts';

/** A Powertools-like log line carrying `fields`. */
const logLine = (fields: Record<string, unknown>) =>
  JSON.stringify({ level: 'INFO', message: 'Token served', service: 'token-broker', ...fields });

const TOKEN = 'c2-pGGmoT80gVeBeBULq68vI0RvDdrhxLxaKek6RVdT';
const credentials: Credential[] = [
  { kind: 'access_token', value: TOKEN },
  { kind: 'client_secret', value: 'fixture-secret-6f1d0c2b9a' },
  { kind: 'client_secret', value: 'password' },
];

describe('Function: findLeaks', () => {
  it.each([
    ['an access token the tests received', logLine({ token: TOKEN }), 'access_token'],
    ['a client secret', logLine({ description: 'rejected fixture-secret-6f1d0c2b9a' }), 'client_secret'],
    ['a URL-encoded client secret', 'client_secret=fixture-secret-6f1d0c2b9a&x=1', 'client_secret'],
    ['a short secret standing as a JSON value', logLine({ secret: 'password' }), 'client_secret'],
    ['a short secret as a form parameter', 'body client_secret=password&scope=read', 'client_secret'],
    [
      'a SigV4 Authorization header',
      logLine({ headers: { Authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261128/us-east-1/execute-api' } }),
      'a SigV4 Authorization header',
    ],
    ['a Basic Authorization header', 'authorization: Basic bTJtLWJhc2ljOng=', 'a Basic Authorization header'],
    ['a Bearer Authorization header', 'Authorization: Bearer abc.def-123456789', 'a Bearer Authorization header'],
    ['a PEM private key', '-----BEGIN PRIVATE KEY-----\\nMIGHAgEAMBMG', 'a PEM private key'],
    ['a private JWK', '{"kty":"EC","crv":"P-256","d":"q3zZl1d8NvtC9pQ8fJmE2Q"}', 'a private JWK'],
    ['a JWT', logLine({ assertion: 'eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJtMm0tand0In0.sig' }), 'a JWT'],
  ])('finds %s', (_case, line, what) => {
    // Act
    const leaks = findLeaks('output-1.log', ['first line', line], credentials);

    // Assess
    expect(leaks).toContainEqual({ source: 'output-1.log', line: 2, what });
  });

  it.each([
    ['the word password in prose', logLine({ description: 'the password of client shop was rejected' })],
    ['Basic and Bearer in prose', logLine({ description: 'Basic authentication failed; a Bearer token is expected' })],
    ['client_secret_basic', logLine({ authMethod: 'client_secret_basic' })],
    ['a served token log line', logLine({ client: 'shop', scope: 'read', source: 'memory', expiresIn: 3599 })],
  ])('finds nothing in %s', (_case, line) => {
    // Act
    const leaks = findLeaks('output-1.log', [line], credentials);

    // Assess
    expect(leaks).toEqual([]);
  });

  it('reports where and what, never the value', () => {
    // Act
    const leaks = findLeaks('output-1.log', [logLine({ token: TOKEN })], credentials);

    // Assess
    expect(JSON.stringify(leaks)).not.toContain(TOKEN);
  });
});

describe('Function: credentialsInRequest', () => {
  it('takes the Authorization header, the secret inside a Basic one, and the credential form parameters', () => {
    // Prepare
    const basic = `Basic ${Buffer.from('m2m-basic:s%C3%A9cret%3Aone').toString('base64')}`;
    const body = new URLSearchParams({ client_secret: 'form-secret', client_assertion: 'eyJ.a.b', scope: 'read' });

    // Act
    const found = credentialsInRequest(new Headers({ authorization: basic }), body);

    // Assess
    expect(found).toEqual([
      { kind: 'authorization', value: basic },
      { kind: 'client_secret', value: 'sécret:one' },
      { kind: 'client_secret', value: 'form-secret' },
      { kind: 'client_assertion', value: 'eyJ.a.b' },
    ]);
  });
});

describe('Function: credentialsInResponse', () => {
  it.each([
    [
      'a token response',
      JSON.stringify({ access_token: TOKEN, token_type: 'Bearer' }),
      [{ kind: 'access_token', value: TOKEN }],
    ],
    ['an error', JSON.stringify({ error: 'invalid_client' }), []],
    ['not JSON', 'Bad Gateway', []],
  ])('reads %s', (_case, text, expected) => {
    // Act
    const found = credentialsInResponse(text);

    // Assess
    expect(found).toEqual(expected);
  });
});
