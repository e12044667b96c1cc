import { generateKeyPairSync } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { MAX_TOKEN_RESPONSE_BYTES } from '../../../../lambda/broker/adapters/bounded-fetch.ts';
import { createOAuthTokenEndpoint } from '../../../../lambda/broker/adapters/oauth-token-endpoint.ts';
import { BrokerError } from '../../../../lambda/broker/core/errors.ts';
import { DEFAULT_COOLDOWNS } from '../../../../lambda/broker/core/refresh-failure.ts';
import { everythingSaidAbout } from '../../../support/leaks.ts';
import { clientCertificateSecret, selfSignedClient } from '../../../support/test-pki.ts';
import { virtualTime } from '../../../support/virtual-time.ts';
import { CLIENT_SECRET, clientConfig, TOKEN_ENDPOINT } from '../support/client-config.ts';
import {
  type Answer,
  bodyBreaksOff,
  bodyStalls,
  connectionRefused,
  errorResponse,
  hangs,
  largeBody,
  scriptedFetch,
  tokenResponse,
} from '../support/scripted-fetch.ts';

const ACCESS_TOKEN = 'access-token-from-the-server';
const LEAKY_TOKEN = 'leaky-token';
const goodToken = tokenResponse({ access_token: ACCESS_TOKEN, token_type: 'Bearer', expires_in: 3600 });

/** Where virtual time starts, in seconds: the `now` a JWT's `exp` is measured against. */
const START_SECONDS = 1_700_000_000;

/** An access token that is a JWT with these claims, unsigned: the broker only reads them. */
const jwt = (claims: Record<string, unknown>) =>
  ['{"alg":"RS256","typ":"at+jwt"}', JSON.stringify(claims), 'signature']
    .map((part, i) => (i < 2 ? Buffer.from(part).toString('base64url') : part))
    .join('.');

/** Runs one token request against a scripted endpoint, on virtual time. */
function request(
  script: (() => Answer)[],
  options: { overrides?: Record<string, unknown>; scopes?: string[]; secret?: string } = {},
) {
  const endpoint = scriptedFetch(...script);
  const time = virtualTime();
  const outcome = createOAuthTokenEndpoint({ ...time, fetch: endpoint.fetch })(
    clientConfig(options.overrides),
    options.secret ?? CLIENT_SECRET,
    options.scopes ?? ['read', 'write'],
  );
  return { outcome, requests: endpoint.requests, sleeps: time.sleeps };
}

/** A secret with every character form-encoding changes: reserved, space, percent, plus (client secrets are printable ASCII, RFC 6749 Appendix A). */
const RESERVED_SECRET = "p@ss:w/rd+%&=?# ~!*'()-DO-NOT-LEAK";

/** `Basic base64(id:secret)` with both as they are. */
const plainBasic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

/** `Basic base64(form(id):form(secret))`, as RFC 6749 §2.3.1 asks, form being the URL Standard's urlencoded serializer. */
const formBasic = (id: string, secret: string) => {
  const form = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
  return `Basic ${Buffer.from(`${form(id)}:${form(secret)}`).toString('base64')}`;
};

/** An endpoint for repeated requests of one client, on virtual time, recording what it learns. */
function basicEndpoint(script: (() => Answer)[], overrides: Record<string, unknown> = {}) {
  const endpoint = scriptedFetch(...script);
  const learned: string[] = [];
  const requestToken = createOAuthTokenEndpoint({
    ...virtualTime(),
    fetch: endpoint.fetch,
    telemetry: { basicAuthEncodingLearned: (client, encoding) => learned.push(`${client}:${encoding}`) },
  });
  const client = clientConfig({ authMethod: 'client_secret_basic', ...overrides });
  return {
    get: (options?: { retryRejectedEncoding?: boolean }) => requestToken(client, RESERVED_SECRET, ['read'], options),
    authorizations: () => endpoint.requests.map((r) => r.headers.get('authorization')),
    learned,
  };
}

async function failureOf(outcome: Promise<unknown>): Promise<BrokerError> {
  const error = await outcome.then(
    () => {
      throw new Error('expected the token request to fail');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BrokerError);
  return error as BrokerError;
}

describe('Function: createOAuthTokenEndpoint', () => {
  describe('the request', () => {
    it('posts the client credentials grant with client_secret_post', async () => {
      // Prepare
      const { outcome, requests } = request([goodToken]);

      // Act
      await outcome;

      // Assess
      expect(requests).toHaveLength(1);
      const [sent] = requests;
      expect(sent?.url).toBe(TOKEN_ENDPOINT);
      expect(Object.fromEntries(sent?.form ?? [])).toEqual({
        grant_type: 'client_credentials',
        client_id: 'shop-m2m',
        client_secret: CLIENT_SECRET,
        scope: 'read write',
      });
      expect(sent?.headers.get('authorization')).toBeNull();
      expect(sent?.headers.get('content-type')).toContain('application/x-www-form-urlencoded');
    });

    it('sends the credentials in an Authorization header with client_secret_basic', async () => {
      // Prepare
      const { outcome, requests } = request([goodToken], {
        overrides: { authMethod: 'client_secret_basic' },
      });

      // Act
      await outcome;

      // Assess
      const [scheme, encoded] = (requests[0]?.headers.get('authorization') ?? '').split(' ');
      const [id, secret] = Buffer.from(encoded ?? '', 'base64')
        .toString()
        .split(':')
        .map((part) => decodeURIComponent(part.replaceAll('+', ' ')));
      expect(scheme).toBe('Basic');
      expect({ id, secret }).toEqual({ id: 'shop-m2m', secret: CLIENT_SECRET });
      expect(requests[0]?.form.has('client_secret')).toBe(false);
      expect(requests[0]?.form.get('grant_type')).toBe('client_credentials');
    });

    it('sends the extra parameters, the audience and every resource', async () => {
      // Prepare
      const { outcome, requests } = request([goodToken], {
        overrides: {
          extraParams: { tenant: 'eu', organization: 'acme' },
          audience: 'https://api.example.com',
          resource: ['https://orders.example.com', 'https://stock.example.com'],
        },
      });

      // Act
      await outcome;

      // Assess
      const form = requests[0]?.form;
      expect(form?.get('tenant')).toBe('eu');
      expect(form?.get('organization')).toBe('acme');
      expect(form?.get('audience')).toBe('https://api.example.com');
      expect(form?.getAll('resource')).toEqual(['https://orders.example.com', 'https://stock.example.com']);
    });

    it('leaves scope out when no scopes are requested', async () => {
      // Prepare
      const { outcome, requests } = request([goodToken], { scopes: [] });

      // Act
      await outcome;

      // Assess
      expect(requests[0]?.form.has('scope')).toBe(false);
    });
  });

  describe('client_secret_basic encodings', () => {
    const form = formBasic('shop-m2m', RESERVED_SECRET);
    const plain = plainBasic('shop-m2m', RESERVED_SECRET);

    it('form-encodes id and secret with the URL Standard serializer: letters, digits and *-._ as they are, a space as +', async () => {
      // Prepare
      const endpoint = scriptedFetch(goodToken);
      const requestToken = createOAuthTokenEndpoint({ ...virtualTime(), fetch: endpoint.fetch });

      // Act
      await requestToken(
        clientConfig({ authMethod: 'client_secret_basic', clientId: 'shop-m2m' }),
        RESERVED_SECRET,
        [],
      );

      // Assess
      const sent = endpoint.requests[0]?.headers.get('authorization') ?? '';
      expect(Buffer.from(sent.replace(/^Basic /, ''), 'base64').toString()).toBe(
        'shop-m2m:p%40ss%3Aw%2Frd%2B%25%26%3D%3F%23+%7E%21*%27%28%29-DO-NOT-LEAK',
      );
    });

    it('tries the plain encoding once when the form one is rejected, and tries it first from then on', async () => {
      // Prepare
      const endpoint = basicEndpoint([errorResponse(401), goodToken]);

      // Act
      const first = await endpoint.get();
      const second = await endpoint.get();

      // Assess
      expect([first.accessToken, second.accessToken]).toEqual([ACCESS_TOKEN, ACCESS_TOKEN]);
      expect(form).not.toBe(plain);
      expect(endpoint.authorizations()).toEqual([form, plain, plain]);
      expect(endpoint.learned).toEqual(['shop:plain']);
    });

    it.each([
      ['unauthorized_client (Keycloak)', 'unauthorized_client'],
      ['access_denied (Auth0)', 'access_denied'],
    ])('tries the plain encoding once when the form one gets a 401 with %s', async (_case, code) => {
      // Prepare
      const endpoint = basicEndpoint([errorResponse(401, { error: code }), goodToken]);

      // Act
      const token = await endpoint.get();

      // Assess
      expect(token.accessToken).toBe(ACCESS_TOKEN);
      expect(endpoint.authorizations()).toEqual([form, plain]);
      expect(endpoint.learned).toEqual(['shop:plain']);
    });

    it('remembers the form encoding when it is accepted, and still tries plain once when it is rejected', async () => {
      // Prepare
      const endpoint = basicEndpoint([goodToken, errorResponse(401), goodToken]);

      // Act
      await endpoint.get();
      await endpoint.get();

      // Assess
      expect(endpoint.authorizations()).toEqual([form, form, plain]);
      expect(endpoint.learned).toEqual(['shop:form', 'shop:plain']);
    });

    it('reports rejected credentials after both encodings are refused, saying nothing of either', async () => {
      // Prepare
      const endpoint = basicEndpoint([errorResponse(401)]);

      // Act
      const error = await failureOf(endpoint.get());

      // Assess
      expect(error.rejection).toBe('credentials_rejected');
      expect(endpoint.authorizations()).toEqual([form, plain]);
      const said = everythingSaidAbout(error);
      expect(said).toContain('client shop');
      for (const leak of [RESERVED_SECRET, form.slice(6), plain.slice(6), encodeURIComponent(RESERVED_SECRET)]) {
        expect(said).not.toContain(leak);
      }
    });

    it('sends one encoding only when the request may not retry another', async () => {
      // Prepare
      const endpoint = basicEndpoint([errorResponse(401)]);

      // Act
      await failureOf(endpoint.get({ retryRejectedEncoding: false }));

      // Assess
      expect(endpoint.authorizations()).toEqual([form]);
    });

    it('does not retry a refusal that is not about the credentials', async () => {
      // Prepare
      const endpoint = basicEndpoint([errorResponse(400, { error: 'invalid_scope' })]);

      // Act
      await failureOf(endpoint.get());

      // Assess
      expect(endpoint.authorizations()).toEqual([form]);
    });

    it.each([
      ['form', form],
      ['plain', plain],
    ])('sends only the %s encoding when configured', async (basicAuthEncoding, expected) => {
      // Prepare
      const endpoint = basicEndpoint([errorResponse(401)], { basicAuthEncoding });

      // Act
      await failureOf(endpoint.get());

      // Assess
      expect(endpoint.authorizations()).toEqual([expected]);
      expect(endpoint.learned).toEqual([]);
    });

    it.each([
      ['credentials the encodings do not change', 'shopm2m', 'plainsecret123'],
      // A UUID client id and a secret of letters, digits, - . _ (Entra, Okta): the same both ways.
      ['a UUID client id and a secret with - . _ *', '0f8c2e5a-3b1d-4c7e-9a2f-6d5e4c3b2a10', 'Ab9.x_Y-z*Q'],
      ['a client id with a colon, which only the form encoding can carry', 'urn:shop', RESERVED_SECRET],
    ])('sends one request for %s', async (_case, clientId, secret) => {
      // Prepare
      const endpoint = scriptedFetch(errorResponse(401));
      const requestToken = createOAuthTokenEndpoint({ ...virtualTime(), fetch: endpoint.fetch });

      // Act
      await failureOf(requestToken(clientConfig({ authMethod: 'client_secret_basic', clientId }), secret, []));

      // Assess
      expect(endpoint.requests.map((r) => r.headers.get('authorization'))).toEqual([formBasic(clientId, secret)]);
    });
  });

  describe('a successful response', () => {
    it('returns the token, its type, lifetime and granted scope', async () => {
      // Prepare
      const { outcome } = request([
        tokenResponse({ access_token: ACCESS_TOKEN, token_type: 'Bearer', expires_in: 3600, scope: 'read' }),
      ]);

      // Act
      const token = await outcome;

      // Assess
      expect(token).toEqual({ accessToken: ACCESS_TOKEN, tokenType: 'Bearer', expiresInSeconds: 3600, scope: 'read' });
    });

    it.each([
      ['without expires_in', {}],
      ['with expires_in 0', { expires_in: 0 }],
    ])('assumes the client default lifetime for a response %s', async (_case, lifetime) => {
      // Prepare
      const { outcome } = request([tokenResponse({ access_token: ACCESS_TOKEN, token_type: 'Bearer', ...lifetime })], {
        overrides: { defaultExpiresInSeconds: 120 },
      });

      // Act
      const token = await outcome;

      // Assess
      expect(token.expiresInSeconds).toBe(120);
    });

    describe('without expires_in', () => {
      it.each([
        ['the exp of a JWT access token', jwt({ sub: 'shop-m2m', exp: START_SECONDS + 1234 }), {}, 1234],
        ['expires_in over the exp of a JWT', jwt({ exp: START_SECONDS + 1234 }), { expires_in: 600 }, 600],
        ['the default for a JWT without exp', jwt({ sub: 'shop-m2m' }), {}, 120],
        ['the default for a JWT whose exp is not a number', jwt({ exp: 'soon' }), {}, 120],
        ['the default for an opaque token with dots', 'opaque.token.value', {}, 120],
        ['the default for an encrypted JWT', 'a.b.c.d.e', {}, 120],
      ])('uses %s', async (_case, accessToken, lifetime, expected) => {
        // Prepare
        const { outcome } = request([tokenResponse({ access_token: accessToken, token_type: 'Bearer', ...lifetime })], {
          overrides: { defaultExpiresInSeconds: 120 },
        });

        // Act
        const token = await outcome;

        // Assess
        expect(token.expiresInSeconds).toBe(expected);
      });
    });

    describe('with a JWT access token whose exp comes before expires_in', () => {
      it('uses the time left until exp, for an expires_in in milliseconds by mistake', async () => {
        // Prepare
        const accessToken = jwt({ exp: START_SECONDS + 60 });
        const { outcome } = request([
          tokenResponse({ access_token: accessToken, token_type: 'Bearer', expires_in: 3_600_000 }),
        ]);

        // Act
        const token = await outcome;

        // Assess
        expect(token.expiresInSeconds).toBe(60);
      });

      it.each([
        ['has passed', START_SECONDS - 30, 'expired 30 s ago by its exp claim'],
        ['is 1 s away', START_SECONDS + 1, 'expires within 1 s by its exp claim'],
      ])('refuses a token whose exp %s as an invalid response, without retrying', async (_case, exp, why) => {
        // Prepare
        const accessToken = jwt({ sub: 'shop-m2m', exp });
        const { outcome, requests } = request([
          tokenResponse({ access_token: accessToken, token_type: 'Bearer', expires_in: 3600 }),
        ]);

        // Act
        const error = await failureOf(outcome);

        // Assess
        expect(error).toMatchObject({ code: 'upstream_rejected', rejection: 'invalid_response' });
        expect(error.description).toBe(`The authorization server of client shop issued an access token that ${why}`);
        expect(everythingSaidAbout(error)).not.toContain(accessToken);
        expect(requests).toHaveLength(1);
      });
    });

    describe('from a Java server (Jackson) and others that send what a token does without', () => {
      it('serves a token whose optional members are null, with the default lifetime and the requested scopes', async () => {
        // Prepare
        const { outcome } = request(
          [
            tokenResponse({
              access_token: ACCESS_TOKEN,
              token_type: 'Bearer',
              expires_in: null,
              scope: null,
              refresh_token: null,
              id_token: null,
            }),
          ],
          { overrides: { defaultExpiresInSeconds: 120 } },
        );

        // Act
        const token = await outcome;

        // Assess
        expect(token).toEqual({
          accessToken: ACCESS_TOKEN,
          tokenType: 'Bearer',
          expiresInSeconds: 120,
          scope: 'read write',
        });
      });

      it.each<[string, unknown, number]>([
        ['a negative expires_in', -1, 120],
        ['an empty expires_in', '', 120],
        ['an expires_in that is not a number', 'soon', 120],
        ['an infinite expires_in', '1e999', 120],
        ['an expires_in that is a boolean', true, 120],
        ['an expires_in that is a numeric string', '3600', 3600],
      ])('serves a token with %s', async (_case, expiresIn, expected) => {
        // Prepare
        const { outcome } = request(
          [tokenResponse({ access_token: ACCESS_TOKEN, token_type: 'Bearer', expires_in: expiresIn })],
          { overrides: { defaultExpiresInSeconds: 120 } },
        );

        // Act
        const token = await outcome;

        // Assess
        expect(token.expiresInSeconds).toBe(expected);
      });

      it('serves a token from such a body that starts with a byte order mark', async () => {
        // Prepare
        const body = `\uFEFF{"access_token":"${ACCESS_TOKEN}","token_type":"Bearer","expires_in":60,"scope":null}`;
        const { outcome } = request([
          () => new Response(body, { status: 200, headers: { 'content-type': 'application/json' } }),
        ]);

        // Act
        const token = await outcome;

        // Assess
        expect(token).toMatchObject({ accessToken: ACCESS_TOKEN, expiresInSeconds: 60, scope: 'read write' });
      });

      it('serves a token with a refresh_token and an id_token, which client credentials do without', async () => {
        // Prepare
        const { outcome } = request([
          tokenResponse({
            access_token: ACCESS_TOKEN,
            token_type: 'Bearer',
            expires_in: 3600,
            refresh_token: 42,
            id_token: 'not-a-jwt',
          }),
        ]);

        // Act
        const token = await outcome;

        // Assess
        expect(token).toMatchObject({ accessToken: ACCESS_TOKEN, expiresInSeconds: 3600 });
      });
    });

    it('accepts a lowercase token_type and reports it as Bearer', async () => {
      // Prepare
      const { outcome } = request([
        tokenResponse({ access_token: ACCESS_TOKEN, token_type: 'bearer', expires_in: 60 }),
      ]);

      // Act
      const token = await outcome;

      // Assess
      expect(token.tokenType).toBe('Bearer');
    });

    it("accepts Apigee's token_type BearerToken, expires_in as a string, and reports Bearer", async () => {
      // Prepare: Apigee's OAuthV2 policy answers this way.
      const { outcome } = request([
        tokenResponse({ access_token: ACCESS_TOKEN, token_type: 'BearerToken', expires_in: '1799' }),
      ]);

      // Act
      const token = await outcome;

      // Assess
      expect(token).toMatchObject({ accessToken: ACCESS_TOKEN, tokenType: 'Bearer', expiresInSeconds: 1799 });
    });

    it('reports the requested scopes when the response has no scope', async () => {
      // Prepare
      const { outcome } = request([goodToken], { scopes: ['read', 'write'] });

      // Act
      const token = await outcome;

      // Assess
      expect(token.scope).toBe('read write');
    });
  });

  describe('a refused request', () => {
    it.each([
      ['invalid_client with 401', errorResponse(401, { error: 'invalid_client' })],
      ['invalid_client with 400', errorResponse(400, { error: 'invalid_client' })],
      ['unauthorized_client with 401 (Keycloak)', errorResponse(401, { error: 'unauthorized_client' })],
      ['access_denied with 401 (Auth0)', errorResponse(401, { error: 'access_denied' })],
      ['invalid_request with 401', errorResponse(401, { error: 'invalid_request' })],
      ['401 without a body', errorResponse(401)],
      ['403 without a body', errorResponse(403)],
      [
        '401 with a WWW-Authenticate challenge',
        errorResponse(401, undefined, { 'WWW-Authenticate': 'Basic realm="as"' }),
      ],
    ])('reports rejected credentials for %s, without retrying', async (_case, answer) => {
      // Prepare
      const { outcome, requests } = request([answer]);

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.rejection).toBe('credentials_rejected');
      expect(error.code).toBe('upstream_rejected');
      expect(error.description).toContain('shop');
      expect(requests).toHaveLength(1);
    });

    it('names the OAuth error of a 401 in the rejection of the credentials', async () => {
      // Prepare
      const { outcome } = request([errorResponse(401, { error: 'unauthorized_client' })]);

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.description).toBe(
        'The authorization server rejected the credentials of client shop (unauthorized_client, HTTP 401)',
      );
    });

    it('reports a 403 with an OAuth error other than invalid_client as a refused request, naming it', async () => {
      // Prepare
      const { outcome, requests } = request([errorResponse(403, { error: 'access_denied' })]);

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.rejection).toBe('request_rejected');
      expect(error.description).toContain('access_denied (HTTP 403)');
      expect(requests).toHaveLength(1);
    });

    it('reports invalid_scope as a refused request, not as rejected credentials, without retrying', async () => {
      // Prepare
      const { outcome, requests } = request([errorResponse(400, { error: 'invalid_scope' })]);

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.rejection).not.toBe('credentials_rejected');
      expect(error.code).toBe('upstream_rejected');
      expect(error.description).toContain('invalid_scope');
      expect(requests).toHaveLength(1);
    });

    it.each([
      ['token_type mac', { access_token: ACCESS_TOKEN, token_type: 'mac', expires_in: 60 }],
      ['no access_token', { token_type: 'Bearer', expires_in: 60 }],
      ['no token_type', { access_token: LEAKY_TOKEN, expires_in: 60 }],
      ['a null access_token', { access_token: null, token_type: 'Bearer', expires_in: 60 }],
      ['a null token_type', { access_token: ACCESS_TOKEN, token_type: null, expires_in: 60 }],
    ])('refuses a 200 response with %s', async (_case, body) => {
      // Prepare
      const { outcome, requests } = request([tokenResponse(body)]);

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.code).toBe('upstream_rejected');
      expect(error.rejection).not.toBe('credentials_rejected');
      expect(requests).toHaveLength(1);
    });

    it.each([
      ['DPoP', 'dpop'],
      ['N_A', 'n_a'],
    ])('refuses a token of type %s as an invalid response naming the type, without retrying', async (type, named) => {
      // Prepare
      const { outcome, requests } = request([
        tokenResponse({ access_token: ACCESS_TOKEN, token_type: type, expires_in: 3600 }),
      ]);

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.code).toBe('upstream_rejected');
      expect(error.rejection).toBe('invalid_response');
      expect(error.description).toContain(`token of type "${named}"`);
      expect(requests).toHaveLength(1);
    });

    it('does not echo a token_type that does not look like one', async () => {
      // Prepare
      const { outcome } = request([tokenResponse({ access_token: ACCESS_TOKEN, token_type: `x ${LEAKY_TOKEN}` })]);

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.description).toContain('an unrecognizable one');
      expect(everythingSaidAbout(error)).not.toContain(LEAKY_TOKEN);
    });

    it('refuses a 200 response that is not JSON', async () => {
      // Prepare
      const { outcome } = request([() => new Response('<html>login</html>', { status: 200 })]);

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.code).toBe('upstream_rejected');
    });
  });

  describe('an access token bound to a key', () => {
    const certificateBound = jwt({
      sub: 'shop-m2m',
      cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' },
    });

    it('refuses a certificate-bound JWT (cnf x5t#S256), saying why and how to fix it, without retrying', async () => {
      // Prepare
      const { outcome, requests } = request([
        tokenResponse({ access_token: certificateBound, token_type: 'Bearer', expires_in: 3600 }),
      ]);

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.code).toBe('upstream_rejected');
      expect(error.rejection).toBe('invalid_response');
      expect(error.description).toContain('client shop issued an access token bound to a key (cnf x5t#S256)');
      expect(error.description).toContain("the broker's callers do not hold it");
      expect(error.description).toContain('Turn off certificate-bound access tokens for this client');
      expect(error.description).toContain('tls_client_certificate_bound_access_tokens: false');
      expect(everythingSaidAbout(error)).not.toContain(certificateBound);
      expect(requests).toHaveLength(1);
    });

    it('refuses a DPoP-bound JWT (cnf jkt) with the general fix', async () => {
      // Prepare
      const { outcome } = request([
        tokenResponse({ access_token: jwt({ cnf: { jkt: 'thumbprint' } }), token_type: 'Bearer', expires_in: 60 }),
      ]);

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.description).toContain('(cnf jkt)');
      expect(error.description).toContain('Bearer tokens not bound to a key');
    });

    it('does not echo cnf members that do not look like confirmation methods', async () => {
      // Prepare
      const accessToken = jwt({ cnf: { [`x ${LEAKY_TOKEN} and more text`]: 1 } });
      const { outcome } = request([tokenResponse({ access_token: accessToken, token_type: 'Bearer', expires_in: 60 })]);

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.description).toContain('(cnf unrecognized)');
      expect(everythingSaidAbout(error)).not.toContain(LEAKY_TOKEN);
    });

    it.each([
      ['a JWT without cnf', jwt({ sub: 'shop-m2m' })],
      ['an opaque token, whose binding cannot be seen', 'opaque.token.value'],
    ])('serves %s', async (_case, accessToken) => {
      // Prepare
      const { outcome } = request([tokenResponse({ access_token: accessToken, token_type: 'Bearer', expires_in: 60 })]);

      // Act
      const token = await outcome;

      // Assess
      expect(token.accessToken).toBe(accessToken);
    });
  });

  describe('an unavailable server', () => {
    it('retries 503 and returns the token that follows', async () => {
      // Prepare
      const { outcome, requests } = request([errorResponse(503), errorResponse(503), goodToken]);

      // Act
      const token = await outcome;

      // Assess
      expect(token.accessToken).toBe(ACCESS_TOKEN);
      expect(requests).toHaveLength(3);
    });

    it('waits as long as a 429 Retry-After asks before trying again', async () => {
      // Prepare
      const { outcome, requests, sleeps } = request([
        errorResponse(429, { error: 'slow_down' }, { 'Retry-After': '2' }),
        goodToken,
      ]);

      // Act
      const token = await outcome;

      // Assess
      expect(token.accessToken).toBe(ACCESS_TOKEN);
      expect(requests).toHaveLength(2);
      expect(sleeps).toHaveLength(1);
      expect(sleeps[0]).toBeGreaterThanOrEqual(2_000);
    });

    it('reports upstream_unavailable with a Retry-After after persistent 500s', async () => {
      // Prepare
      const { outcome, requests } = request([errorResponse(500)]);

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.code).toBe('upstream_unavailable');
      expect(error.description).toContain('HTTP 500');
      expect(error.retryAfterSeconds).toBe(5);
      expect(requests).toHaveLength(4);
    });

    it('passes the server Retry-After on when it keeps answering 429', async () => {
      // Prepare
      const { outcome, requests } = request([errorResponse(429, undefined, { 'Retry-After': '7' })]);

      // Act
      const error = await failureOf(outcome);

      // Assess: 7 s waits fit twice into the 15 s deadline.
      expect(error.code).toBe('upstream_unavailable');
      expect(error.retryAfterSeconds).toBe(7);
      expect(requests).toHaveLength(3);
    });

    it.each([
      ['a day in seconds', '86400'],
      ['more seconds than a number holds exactly', '99999999999999999999'],
      ['an HTTP-date a year ahead', new Date((START_SECONDS + 31_536_000) * 1000).toUTCString()],
    ])(
      'passes a Retry-After of %s on capped at the longest cool-down, without waiting for it',
      async (_case, value) => {
        // Prepare
        const { outcome, requests } = request([errorResponse(429, undefined, { 'Retry-After': value })]);

        // Act
        const error = await failureOf(outcome);

        // Assess
        expect(error.code).toBe('upstream_unavailable');
        expect(error.retryAfterSeconds).toBe(DEFAULT_COOLDOWNS.maxMs / 1000);
        expect(requests).toHaveLength(1);
      },
    );

    it.each([
      ['X-Rate-Limit-Reset', 'Okta'],
      ['X-RateLimit-Reset', 'Auth0'],
    ])('waits until the %s (%s) of a 429 without Retry-After before trying again', async (header) => {
      // Prepare
      const { outcome, requests, sleeps } = request([
        errorResponse(429, undefined, { [header]: String(START_SECONDS + 3) }),
        goodToken,
      ]);

      // Act
      const token = await outcome;

      // Assess
      expect(token.accessToken).toBe(ACCESS_TOKEN);
      expect(requests).toHaveLength(2);
      expect(sleeps).toEqual([3_000]);
    });

    it('passes a far X-RateLimit-Reset of a 429 on capped at the longest cool-down', async () => {
      // Prepare
      const { outcome, requests } = request([
        errorResponse(429, undefined, { 'X-RateLimit-Reset': String(START_SECONDS + 3600) }),
      ]);

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.retryAfterSeconds).toBe(DEFAULT_COOLDOWNS.maxMs / 1000);
      expect(requests).toHaveLength(1);
    });

    it.each<[string, number, Record<string, string>, number]>([
      ['a Retry-After over an X-RateLimit-Reset', 429, { 'Retry-After': '7', 'X-RateLimit-Reset': '1700000060' }, 7],
      ['no X-RateLimit-Reset of a 503', 503, { 'X-RateLimit-Reset': '1700000060' }, 5],
    ])('passes on %s', async (_case, status, headers, expected) => {
      // Prepare
      const { outcome } = request([errorResponse(status, undefined, headers)]);

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.retryAfterSeconds).toBe(expected);
    });

    it('retries a network error, then reports upstream_unavailable with the error code', async () => {
      // Prepare
      const { outcome, requests } = request([connectionRefused()]);

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.code).toBe('upstream_unavailable');
      expect(error.description).toContain('unreachable');
      expect(error.retryAfterSeconds).toBe(5);
      expect(requests).toHaveLength(4);
      expect(everythingSaidAbout(error)).toContain('ECONNREFUSED');
    });

    it.each([
      'SELF_SIGNED_CERT_IN_CHAIN',
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'CERT_HAS_EXPIRED',
      'ERR_TLS_CERT_ALTNAME_INVALID',
    ])('reports a server certificate failing verification (%s) at once, naming it, without retrying', async (code) => {
      // Prepare
      const { outcome, requests } = request([() => new TypeError('fetch failed', { cause: { code } })]);

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.code).toBe('upstream_unavailable');
      expect(error.description).toBe(
        `The authorization server of client shop presented an untrusted TLS certificate (${code}); a private CA needs trustedCaCertificates`,
      );
      expect(requests).toHaveLength(1);
    });

    it('recovers when the network comes back', async () => {
      // Prepare
      const { outcome, requests } = request([connectionRefused(), goodToken]);

      // Act
      const token = await outcome;

      // Assess
      expect(token.accessToken).toBe(ACCESS_TOKEN);
      expect(requests).toHaveLength(2);
    });

    it('ends an attempt that takes longer than attemptTimeoutMs and reports upstream_unavailable', async () => {
      // Prepare
      const { outcome, requests } = request([hangs()], {
        overrides: { attemptTimeoutMs: 100, deadlineMs: 100, maxRetries: 1 },
      });

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.code).toBe('upstream_unavailable');
      expect(error.description).toContain('not answering in time');
      expect(requests).toHaveLength(2);
    });
  });

  describe('a body that breaks off or stalls', () => {
    it('retries a connection reset while the body is read, and returns the token that follows', async () => {
      // Prepare
      const { outcome, requests } = request([bodyBreaksOff(), goodToken]);

      // Act
      const token = await outcome;

      // Assess
      expect(token.accessToken).toBe(ACCESS_TOKEN);
      expect(requests).toHaveLength(2);
    });

    it('reports a body that keeps breaking off as upstream_unavailable with a Retry-After', async () => {
      // Prepare
      const { outcome, requests } = request([bodyBreaksOff()]);

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.code).toBe('upstream_unavailable');
      expect(error.description).toContain('broke off its answer');
      expect(error.retryAfterSeconds).toBe(5);
      expect(requests).toHaveLength(4);
      expect(everythingSaidAbout(error)).toContain('ECONNRESET');
    });

    it('ends an attempt whose body stalls past attemptTimeoutMs and retries it', async () => {
      // Prepare
      const { outcome, requests } = request([bodyStalls(), goodToken], {
        overrides: { attemptTimeoutMs: 100, deadlineMs: 1000, maxRetries: 1 },
      });

      // Act
      const token = await outcome;

      // Assess
      expect(token.accessToken).toBe(ACCESS_TOKEN);
      expect(requests).toHaveLength(2);
    });

    it('reports a body that keeps stalling as upstream_unavailable, not answering in time', async () => {
      // Prepare
      const { outcome, requests } = request([bodyStalls()], {
        overrides: { attemptTimeoutMs: 100, deadlineMs: 100, maxRetries: 1 },
      });

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.code).toBe('upstream_unavailable');
      expect(error.description).toContain('not answering in time');
      expect(requests).toHaveLength(2);
    });
  });

  describe('the size of the response', () => {
    it('refuses a Content-Length over the limit without reading the body, naming the limit', async () => {
      // Prepare
      const body = largeBody(MAX_TOKEN_RESPONSE_BYTES + 1, { announceLength: true });
      const { outcome, requests } = request([body.answer]);

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.code).toBe('upstream_rejected');
      expect(error.rejection).toBe('invalid_response');
      expect(error.description).toContain(`${MAX_TOKEN_RESPONSE_BYTES}-byte limit`);
      expect(requests).toHaveLength(1);
      expect(body.produced()).toBeLessThanOrEqual(64 * 1024);
    });

    it('stops reading an unannounced body as soon as it passes the limit', async () => {
      // Prepare
      const body = largeBody(50 * MAX_TOKEN_RESPONSE_BYTES);
      const { outcome, requests } = request([body.answer]);

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.code).toBe('upstream_rejected');
      expect(error.description).toContain(`${MAX_TOKEN_RESPONSE_BYTES}-byte limit`);
      expect(requests).toHaveLength(1);
      expect(body.produced()).toBeLessThan(MAX_TOKEN_RESPONSE_BYTES + 4 * 64 * 1024);
    });

    it('reads a body just under the limit', async () => {
      // Prepare
      const padding = ' '.repeat(MAX_TOKEN_RESPONSE_BYTES - 200);
      const { outcome } = request([
        () =>
          new Response(`{"access_token":"${ACCESS_TOKEN}","token_type":"Bearer"${padding}}`, {
            headers: { 'content-type': 'application/json' },
          }),
      ]);

      // Act
      const token = await outcome;

      // Assess
      expect(token.accessToken).toBe(ACCESS_TOKEN);
    });
  });

  describe('secrets in failures', () => {
    const echoes = `the secret ${CLIENT_SECRET} is wrong, not like ${LEAKY_TOKEN}`;

    it.each<[string, () => Answer]>([
      ['invalid_client echoing the secret', errorResponse(401, { error: 'invalid_client', error_description: echoes })],
      ['invalid_scope echoing the secret', errorResponse(400, { error: 'invalid_scope', error_description: echoes })],
      ['403 with a text body', () => new Response(echoes, { status: 403 })],
      ['500 with a JSON body', errorResponse(500, { error: 'server_error', error_description: echoes })],
      ['418 with a text body', () => new Response(echoes, { status: 418 })],
      ['200 without token_type', tokenResponse({ access_token: LEAKY_TOKEN, expires_in: 60 })],
      ['200 with token_type mac', tokenResponse({ access_token: LEAKY_TOKEN, token_type: 'mac' })],
      [
        '200 with an access_token that is not a string',
        tokenResponse({ access_token: [LEAKY_TOKEN], token_type: 'Bearer', expires_in: null }),
      ],
      [
        '200 with a scope that is not a string',
        tokenResponse({ access_token: LEAKY_TOKEN, token_type: 'Bearer', scope: 1 }),
      ],
      ['200 with a body that is not an object', () => Response.json([LEAKY_TOKEN])],
      ['a network error', () => new TypeError(`fetch failed ${echoes}`, { cause: { code: 'ECONNRESET' } })],
    ])('says nothing of the secret or of a token in the response: %s', async (_case, answer) => {
      // Prepare
      const { outcome } = request([answer]);

      // Act
      const error = await failureOf(outcome);

      // Assess
      const said = everythingSaidAbout(error);
      expect(said).toMatch(/client shop\b/i);
      expect(said).not.toContain(CLIENT_SECRET);
      expect(said).not.toContain(LEAKY_TOKEN);
    });

    it.each<[string, number, string]>([
      ['the secret it received and a forged log line', 400, `${CLIENT_SECRET}\n{"level":"INFO","message":"forged"}`],
      ['the secret it received and a forged log line, with 401', 401, `${CLIENT_SECRET}\r\nforged`],
      ['the secret alone, which has the syntax of an error code', 400, CLIENT_SECRET],
      ['900 KB', 400, 'e'.repeat(900_000)],
      ['65 characters', 400, 'e'.repeat(65)],
      ['a double quote', 400, 'invalid"scope'],
      ['a backslash', 403, 'invalid\\scope'],
      ['a character outside ASCII', 400, 'invalid_scopé'],
    ])('does not repeat an OAuth error value that is no error code: %s', async (_case, status, value) => {
      // Prepare
      const { outcome } = request([errorResponse(status, { error: value })]);

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.description).toMatch(/client shop\b.*an invalid error code/);
      expect(error.description).not.toMatch(/[\r\n]/);
      expect(error.description.length).toBeLessThan(200);
      const said = everythingSaidAbout(error);
      expect(said).not.toContain(CLIENT_SECRET);
      expect(said).not.toContain('forged');
      expect(said).not.toContain(value.slice(0, 64));
    });

    it('repeats an error code of up to 64 characters of RFC 6749 §5.2 syntax, spaces and punctuation included', async () => {
      // Prepare
      const code = `tenant #42 [locked]: see ~admin ${'x'.repeat(32)}`;
      const { outcome } = request([errorResponse(400, { error: code })]);

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(code).toHaveLength(64);
      expect(error.description).toContain(`: ${code} (HTTP 400)`);
    });

    it('says nothing of the secret when client_secret_basic credentials are refused', async () => {
      // Prepare
      const { outcome } = request([errorResponse(401)], { overrides: { authMethod: 'client_secret_basic' } });

      // Act
      const error = await failureOf(outcome);

      // Assess
      const said = everythingSaidAbout(error);
      expect(said).toContain('rejected the credentials of client shop');
      expect(said).not.toContain(CLIENT_SECRET);
      expect(said).not.toContain(encodeURIComponent(CLIENT_SECRET));
      expect(said).not.toContain('Basic ');
    });
  });

  describe('private_key_jwt', () => {
    const ecKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ecPem = ecKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

    it('signs a client assertion for the token endpoint with a PEM private key', async () => {
      // Prepare
      const { outcome, requests } = request([goodToken], {
        overrides: { authMethod: 'private_key_jwt' },
        secret: ecPem,
      });

      // Act
      await outcome;

      // Assess
      const form = requests[0]?.form;
      expect(form?.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      expect(form?.has('client_secret')).toBe(false);
      const assertion = form?.get('client_assertion') ?? '';
      const { payload, protectedHeader } = await jwtVerify(assertion, ecKeys.publicKey);
      expect(protectedHeader.alg).toBe('ES256');
      expect(payload).toMatchObject({ iss: 'shop-m2m', sub: 'shop-m2m', aud: TOKEN_ENDPOINT });
      expect(payload.jti).toEqual(expect.any(String));
      expect(payload.exp).toEqual(expect.any(Number));
    });

    it('addresses the assertion to the configured issuer', async () => {
      // Prepare
      const { outcome, requests } = request([goodToken], {
        overrides: { authMethod: 'private_key_jwt', issuer: 'https://as.example.test' },
        secret: ecPem,
      });

      // Act
      await outcome;

      // Assess
      const { payload } = await jwtVerify(requests[0]?.form.get('client_assertion') ?? '', ecKeys.publicKey, {
        audience: 'https://as.example.test',
      });
      expect(payload.aud).toBe('https://as.example.test');
    });

    it('signs with a private JWK and names its kid in the header', async () => {
      // Prepare
      const jwk = { ...ecKeys.privateKey.export({ format: 'jwk' }), kid: 'shop-2024' };
      const { outcome, requests } = request([goodToken], {
        overrides: { authMethod: 'private_key_jwt' },
        secret: JSON.stringify(jwk),
      });

      // Act
      await outcome;

      // Assess
      const assertion = requests[0]?.form.get('client_assertion') ?? '';
      expect(decodeProtectedHeader(assertion)).toMatchObject({ alg: 'ES256', kid: 'shop-2024' });
      await expect(jwtVerify(assertion, ecKeys.publicKey)).resolves.toBeDefined();
    });

    it("puts a JWK's certificate thumbprints (x5t, x5t#S256) in the assertion header, as Entra ID asks", async () => {
      // Prepare
      const thumbprints = { x5t: `${'A'.repeat(26)}w`, 'x5t#S256': `${'b'.repeat(42)}Q` };
      const jwk = { ...ecKeys.privateKey.export({ format: 'jwk' }), kid: 'entra-cert', ...thumbprints };
      const { outcome, requests } = request([goodToken], {
        overrides: { authMethod: 'private_key_jwt' },
        secret: JSON.stringify(jwk),
      });

      // Act
      await outcome;

      // Assess
      const assertion = requests[0]?.form.get('client_assertion') ?? '';
      expect(decodeProtectedHeader(assertion)).toEqual({ alg: 'ES256', kid: 'entra-cert', ...thumbprints });
      await expect(jwtVerify(assertion, ecKeys.publicKey)).resolves.toBeDefined();
    });

    it('refuses a JWK whose x5t#S256 is not a thumbprint, naming it, without a request', async () => {
      // Prepare
      const jwk = { ...ecKeys.privateKey.export({ format: 'jwk' }), 'x5t#S256': 'not a thumbprint' };
      const { outcome, requests } = request([goodToken], {
        overrides: { authMethod: 'private_key_jwt' },
        secret: JSON.stringify(jwk),
      });

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.code).toBe('internal_error');
      expect(error.description).toContain('its x5t#S256 is not a base64url certificate thumbprint');
      expect(requests).toHaveLength(0);
    });

    it('signs RS256 with an RSA PEM private key', async () => {
      // Prepare
      const rsaKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const pem = rsaKeys.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
      const { outcome, requests } = request([goodToken], {
        overrides: { authMethod: 'private_key_jwt' },
        secret: pem,
      });

      // Act
      await outcome;

      // Assess
      const { protectedHeader } = await jwtVerify(requests[0]?.form.get('client_assertion') ?? '', rsaKeys.publicKey);
      expect(protectedHeader.alg).toBe('RS256');
    });

    it.each([
      ['text that is no key', 'garbage-not-a-key-5f3a9c'],
      [
        'a PEM frame around garbage',
        '-----BEGIN PRIVATE KEY-----\ngarbage-not-a-key-5f3a9c\n-----END PRIVATE KEY-----',
      ],
      ['broken JSON', '{garbage-not-a-key-5f3a9c'],
      ['a JWK without a curve', '{"kty":"EC","d":"garbage-not-a-key-5f3a9c"}'],
      ['a JWK with bad key material', '{"kty":"EC","crv":"P-256","x":"AA","y":"AA","d":"garbage-not-a-key-5f3a9c"}'],
    ])('refuses %s as internal_error without echoing it, before any request', async (_case, secret) => {
      // Prepare
      const { outcome, requests } = request([goodToken], {
        overrides: { authMethod: 'private_key_jwt' },
        secret,
      });

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.code).toBe('internal_error');
      const said = everythingSaidAbout(error);
      expect(said).toMatch(/client shop\b/i);
      expect(said).not.toContain('garbage-not-a-key-5f3a9c');
      expect(requests).toHaveLength(0);
    });
  });

  describe('a key/value secret read whole (a JSON object, no clientSecret.field)', () => {
    const fromSecretsManager = { clientSecret: { secretId: 'shop/m2m-client' } };
    const OTHER_VALUE = 'admin-password-DO-NOT-LEAK';
    const ecKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ecPem = ecKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const explanation =
      'Secret shop/m2m-client is a JSON object; set clientSecret.field to the key that holds the secret';

    it.each([
      ['client_secret_post', JSON.stringify({ client_secret: CLIENT_SECRET, admin_password: OTHER_VALUE })],
      ['client_secret_basic', JSON.stringify({ client_secret: CLIENT_SECRET, admin_password: OTHER_VALUE })],
      ['private_key_jwt', JSON.stringify({ privateKey: ecPem, admin_password: OTHER_VALUE })],
      ['private_key_jwt', ` {"kid": "shop-2025", "admin_password": "${OTHER_VALUE}"}`],
    ])('with %s, is refused as internal_error naming the secret, before any request', async (authMethod, secret) => {
      // Prepare
      const { outcome, requests } = request([goodToken], {
        overrides: { authMethod, ...fromSecretsManager },
        secret,
      });

      // Act
      const error = await failureOf(outcome);

      // Assess
      expect(error.code).toBe('internal_error');
      expect(error.description).toBe(explanation);
      const said = everythingSaidAbout(error);
      expect(said).not.toContain(CLIENT_SECRET);
      expect(said).not.toContain(OTHER_VALUE);
      expect(said).not.toContain('PRIVATE KEY');
      expect(requests).toHaveLength(0);
    });

    it('with private_key_jwt, signs with a private JWK: its "kty" makes it a key, not a key/value secret', async () => {
      // Prepare
      const jwk = { ...ecKeys.privateKey.export({ format: 'jwk' }), kid: 'shop-2025' };
      const { outcome, requests } = request([goodToken], {
        overrides: { authMethod: 'private_key_jwt', ...fromSecretsManager },
        secret: JSON.stringify(jwk),
      });

      // Act
      await outcome;

      // Assess
      const assertion = requests[0]?.form.get('client_assertion') ?? '';
      await expect(jwtVerify(assertion, ecKeys.publicKey)).resolves.toBeDefined();
    });

    it.each([
      ['braces that are not JSON', '{p@ss}-w0rd'],
      ['a JSON string', '"quoted-secret"'],
    ])('sends a client secret that is %s as it is', async (_case, secret) => {
      // Prepare
      const { outcome, requests } = request([goodToken], { overrides: fromSecretsManager, secret });

      // Act
      await outcome;

      // Assess
      expect(requests[0]?.form.get('client_secret')).toBe(secret);
    });
  });

  describe('mutual TLS clients', () => {
    const pair = selfSignedClient('shop-broker');
    const other = selfSignedClient('someone-else');
    /** A line from the middle of the private key's base64: any echo of the key would contain it. */
    const keyLine = (pem: string) => pem.split('\n')[2] ?? '';

    it.each([
      ['a secret that is not JSON', pair.privateKey, /is not the JSON \{ "certificate": PEM, "privateKey": PEM \}/],
      [
        'a secret without privateKey',
        JSON.stringify({ certificate: pair.certificate, private_key: pair.privateKey }),
        /has no privateKey string/,
      ],
      [
        'a certificate that does not parse',
        JSON.stringify({
          certificate: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----',
          privateKey: pair.privateKey,
        }),
        /certificate of client shop could not be parsed/,
      ],
      [
        'a private key that does not parse',
        JSON.stringify({
          certificate: pair.certificate,
          privateKey: pair.privateKey.replace(/[A-Za-z]{8}/, 'garbage!'),
        }),
        /private key of client shop could not be parsed/,
      ],
      [
        "another certificate's private key",
        clientCertificateSecret({ certificate: pair.certificate, privateKey: other.privateKey }),
        /private key of client shop does not belong to its certificate \(subject CN=shop-broker,O=M2M Token Broker Tests\)/,
      ],
    ])(
      'refuses %s as internal_error naming the client, without key material, before any request',
      async (_case, secret, why) => {
        // Prepare
        const { outcome, requests } = request([goodToken], { overrides: { authMethod: 'tls_client_auth' }, secret });

        // Act
        const error = await failureOf(outcome);

        // Assess
        expect(error.code).toBe('internal_error');
        expect(error.description).toMatch(why);
        const said = everythingSaidAbout(error);
        expect(said).not.toContain(keyLine(pair.privateKey));
        expect(said).not.toContain(keyLine(other.privateKey));
        expect(said).not.toContain('PRIVATE KEY');
        expect(requests).toHaveLength(0);
      },
    );
  });
});
