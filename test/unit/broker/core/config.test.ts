import { describe, expect, it } from 'vitest';
import { ConfigError, parseBrokerConfig, parseBrokerConfigJson } from '../../../../lambda/broker/core/config.ts';
import { ECHO_LIMIT } from '../../../../lambda/broker/core/quote-input.ts';

/** The example of the README. */
const documentedExample = {
  clients: [
    {
      name: 'shop',
      tokenEndpoint: 'https://localhost:5001/master/token',
      clientId: 'm2m',
      clientSecret: { secretId: 'shop/m2m-client' },
      authMethod: 'client_secret_post',
      scopes: ['read'],
    },
  ],
};

function withClient(overrides: Record<string, unknown>, root: Record<string, unknown> = {}): unknown {
  return { ...root, clients: [{ ...documentedExample.clients[0], ...overrides }] };
}

function configErrorOf(parse: () => unknown): ConfigError {
  try {
    parse();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, but the configuration was accepted');
}

describe('Function: parseBrokerConfig', () => {
  it('accepts the documented example and fills in the documented defaults', () => {
    // Act
    const config = parseBrokerConfig(documentedExample);

    // Assess
    expect(config.secretTtlMs).toBe(300_000);
    expect(config.clients).toHaveLength(1);
    const client = config.clients[0];
    expect(client).toMatchObject({
      name: 'shop',
      issuer: 'https://localhost:5001/master/token',
      clientId: 'm2m',
      clientSecret: { kind: 'secretsManager', secretId: 'shop/m2m-client' },
      authMethod: 'client_secret_post',
      scopes: ['read'],
      resource: [],
      extraParams: {},
      refreshAt: 0.75,
      defaultExpiresInSeconds: 300,
      maxLifetimeSeconds: 86_400,
      minCacheableLifetimeSeconds: 5,
      attemptTimeoutMs: 5_000,
      deadlineMs: 15_000,
      maxRetries: 3,
    });
    expect(client?.tokenEndpoint.href).toBe('https://localhost:5001/master/token');
    expect(client?.audience).toBeUndefined();
  });

  it('uses client_secret_post when authMethod is left out', () => {
    // Prepare
    const { authMethod: _omitted, ...client } = documentedExample.clients[0] as Record<string, unknown>;

    // Act
    const config = parseBrokerConfig({ clients: [client] });

    // Assess
    expect(config.clients[0]?.authMethod).toBe('client_secret_post');
  });

  it('keeps the optional fields it is given', () => {
    // Act
    const config = parseBrokerConfig(
      withClient(
        {
          issuer: 'https://localhost:5001/master',
          authMethod: 'private_key_jwt',
          clientSecret: { secretId: 'shop/keys', field: 'privateKey' },
          scopes: ['write', 'read', 'write'],
          audience: 'https://api.example.com',
          resource: 'https://api.example.com/orders',
          extraParams: { tenant: 'eu' },
          refreshAt: 0.5,
          defaultExpiresInSeconds: 60,
          maxLifetimeSeconds: 600,
          minCacheableLifetimeSeconds: 0,
          deadlineMs: 3_000,
          maxRetries: 0,
        },
        { secretTtlMs: 0 },
      ),
    );

    // Assess
    expect(config.secretTtlMs).toBe(0);
    expect(config.clients[0]).toMatchObject({
      issuer: 'https://localhost:5001/master',
      authMethod: 'private_key_jwt',
      clientSecret: { kind: 'secretsManager', secretId: 'shop/keys', field: 'privateKey' },
      scopes: ['read', 'write'],
      audience: 'https://api.example.com',
      resource: ['https://api.example.com/orders'],
      extraParams: { tenant: 'eu' },
      refreshAt: 0.5,
      defaultExpiresInSeconds: 60,
      maxLifetimeSeconds: 600,
      minCacheableLifetimeSeconds: 0,
      attemptTimeoutMs: 3_000,
      deadlineMs: 3_000,
      maxRetries: 0,
    });
  });

  it.each([
    ['client_secret_basic', undefined, 'auto'],
    ['client_secret_basic', 'form', 'form'],
    ['client_secret_basic', 'plain', 'plain'],
    ['client_secret_post', undefined, 'auto'],
  ])('with %s and basicAuthEncoding %s, encodes Basic credentials %s', (authMethod, basicAuthEncoding, expected) => {
    // Act
    const config = parseBrokerConfig(withClient({ authMethod, basicAuthEncoding }));

    // Assess
    expect(config.clients[0]?.basicAuthEncoding).toBe(expected);
  });

  it('assumes no default lifetime longer than maxLifetimeSeconds', () => {
    // Act
    const config = parseBrokerConfig(withClient({ maxLifetimeSeconds: 120 }));

    // Assess
    expect(config.clients[0]).toMatchObject({ maxLifetimeSeconds: 120, defaultExpiresInSeconds: 120 });
  });

  it.each(['http://127.0.0.1:8080/token', 'http://localhost:8080/token', 'http://[::1]:8080/token'])(
    'allows http: for the loopback endpoint %s',
    (tokenEndpoint) => {
      // Act
      const config = parseBrokerConfig(withClient({ tokenEndpoint }));

      // Assess
      expect(config.clients[0]?.tokenEndpoint.protocol).toBe('http:');
    },
  );

  it('allows a literal secret when the caller opts in', () => {
    // Act
    const config = parseBrokerConfig(withClient({ clientSecret: { value: 'local-secret' } }), {
      allowLiteralSecrets: true,
    });

    // Assess
    expect(config.clients[0]?.clientSecret).toEqual({ kind: 'literal', value: 'local-secret' });
  });

  it.each([['tls_client_auth'], ['self_signed_tls_client_auth']])(
    'accepts %s with a whole secret, and the mutual TLS token endpoint alias',
    (authMethod) => {
      // Act
      const config = parseBrokerConfig(
        withClient({
          authMethod,
          clientSecret: { secretId: 'shop/client-certificate' },
          mtlsTokenEndpoint: 'https://mtls.localhost:5001/master/token',
        }),
      );

      // Assess
      const client = config.clients[0];
      expect(client).toMatchObject({
        authMethod,
        clientSecret: { kind: 'secretsManager', secretId: 'shop/client-certificate' },
      });
      expect(client?.mtlsTokenEndpoint?.href).toBe('https://mtls.localhost:5001/master/token');
      expect(client?.tokenEndpoint.href).toBe('https://localhost:5001/master/token');
    },
  );

  it('sends a mutual TLS client to its token endpoint when there is no alias', () => {
    // Act
    const config = parseBrokerConfig(withClient({ authMethod: 'tls_client_auth' }));

    // Assess
    expect(config.clients[0]?.mtlsTokenEndpoint).toBeUndefined();
  });

  it('accepts an http: loopback token endpoint for a mutual TLS client whose alias is https:', () => {
    // Act
    const config = parseBrokerConfig(
      withClient({
        authMethod: 'tls_client_auth',
        tokenEndpoint: 'http://127.0.0.1:5001/master/token',
        mtlsTokenEndpoint: 'https://127.0.0.1:5002/master/token',
      }),
    );

    // Assess
    expect(config.clients[0]?.mtlsTokenEndpoint?.protocol).toBe('https:');
  });

  it.each([
    [
      'an mtlsTokenEndpoint without a mutual TLS method',
      { authMethod: 'client_secret_basic', mtlsTokenEndpoint: 'https://mtls.example.com/token' },
      'clients[0].mtlsTokenEndpoint',
      /applies only to authMethod tls_client_auth or self_signed_tls_client_auth/,
    ],
    [
      'an http: loopback token endpoint with tls_client_auth and no alias',
      { authMethod: 'tls_client_auth', tokenEndpoint: 'http://127.0.0.1:5001/token' },
      'clients[0].tokenEndpoint',
      /must use https: with authMethod tls_client_auth/,
    ],
    [
      'an http: loopback alias',
      { authMethod: 'self_signed_tls_client_auth', mtlsTokenEndpoint: 'http://127.0.0.1:5002/token' },
      'clients[0].mtlsTokenEndpoint',
      /must use https: with authMethod self_signed_tls_client_auth/,
    ],
    [
      'an alias that is not a URL',
      { authMethod: 'tls_client_auth', mtlsTokenEndpoint: 'mtls.example.com/token' },
      'clients[0].mtlsTokenEndpoint',
      /is not an absolute URL/,
    ],
    [
      'a secret field with tls_client_auth',
      { authMethod: 'tls_client_auth', clientSecret: { secretId: 'shop/certs', field: 'certificate' } },
      'clients[0].clientSecret.field',
      /the whole secret is the JSON \{ "certificate", "privateKey" \}/,
    ],
  ])('refuses %s, naming the field and why', (_case, overrides, field, why) => {
    // Act
    const error = configErrorOf(() => parseBrokerConfig(withClient(overrides)));

    // Assess
    expect(error.field).toBe(field);
    expect(error.message).toMatch(why);
  });

  it('lists the mutual TLS methods among the known ones', () => {
    // Act
    const error = configErrorOf(() => parseBrokerConfig(withClient({ authMethod: 'mtls' })));

    // Assess
    expect(error.problem).toMatch(/tls_client_auth, self_signed_tls_client_auth$/);
  });

  it.each([
    ['a missing client list', {}, 'clients'],
    ['an empty client list', { clients: [] }, 'clients'],
    ['a client list that is not an array', { clients: { shop: {} } }, 'clients'],
    ['an unknown top-level key', { ...documentedExample, clientz: [] }, 'clientz'],
    ['a negative secretTtlMs', { ...documentedExample, secretTtlMs: -1 }, 'secretTtlMs'],
  ])('refuses %s, naming the field', (_case, input, field) => {
    // Act
    const error = configErrorOf(() => parseBrokerConfig(input));

    // Assess
    expect(error.field).toBe(field);
    expect(error.message).toContain(field);
  });

  it.each([
    ['a name with capitals', { name: 'Shop' }, 'clients[0].name'],
    ['a name with a slash', { name: 'shop/eu' }, 'clients[0].name'],
    ['a name longer than 64 characters', { name: 'a'.repeat(65) }, 'clients[0].name'],
    ['a missing name', { name: undefined }, 'clients[0].name'],
    [
      'an http: endpoint on a remote host',
      { tokenEndpoint: 'http://as.example.com/token' },
      'clients[0].tokenEndpoint',
    ],
    ['an endpoint that is not a URL', { tokenEndpoint: 'as.example.com/token' }, 'clients[0].tokenEndpoint'],
    ['an endpoint of another scheme', { tokenEndpoint: 'ftp://as.example.com/token' }, 'clients[0].tokenEndpoint'],
    [
      'an endpoint with credentials',
      { tokenEndpoint: 'https://user:pass@as.example.com/token' },
      'clients[0].tokenEndpoint',
    ],
    ['an endpoint with a fragment', { tokenEndpoint: 'https://as.example.com/token#x' }, 'clients[0].tokenEndpoint'],
    ['a missing clientId', { clientId: '' }, 'clients[0].clientId'],
    ['an unknown authMethod', { authMethod: 'client_secret_jwt' }, 'clients[0].authMethod'],
    ['a clientSecret without secretId', { clientSecret: {} }, 'clients[0].clientSecret.secretId'],
    ['a clientSecret with only a field', { clientSecret: { field: 'x' } }, 'clients[0].clientSecret.secretId'],
    ['a clientSecret that is a string', { clientSecret: 'shop/m2m-client' }, 'clients[0].clientSecret'],
    ['a scope with a space', { scopes: ['read write'] }, 'clients[0].scopes[0]'],
    ['a scope with a double quote', { scopes: ['read', 'wr"ite'] }, 'clients[0].scopes[1]'],
    ['a scope with a backslash', { scopes: ['re\\ad'] }, 'clients[0].scopes[0]'],
    ['scopes given as a string', { scopes: 'read' }, 'clients[0].scopes'],
    ['an unknown client key', { clientSecretId: 'shop/m2m-client' }, 'clients[0].clientSecretId'],
    [
      'extraParams overriding grant_type',
      { extraParams: { grant_type: 'password' } },
      'clients[0].extraParams.grant_type',
    ],
    ['extraParams overriding scope', { extraParams: { scope: 'admin' } }, 'clients[0].extraParams.scope'],
    [
      'extraParams overriding client authentication',
      { extraParams: { client_assertion: 'x' } },
      'clients[0].extraParams.client_assertion',
    ],
    ['an extraParams value that is not a string', { extraParams: { tenant: 1 } }, 'clients[0].extraParams.tenant'],
    ['a resource with a fragment', { resource: 'https://api.example.com/#orders' }, 'clients[0].resource'],
    [
      'a resource in a list with a fragment',
      { resource: ['https://a.example.com', 'https://b.example.com/#x'] },
      'clients[0].resource[1]',
    ],
    ['a relative resource', { resource: ['/orders'] }, 'clients[0].resource[0]'],
    [
      'attemptTimeoutMs above deadlineMs',
      { attemptTimeoutMs: 6_000, deadlineMs: 5_000 },
      'clients[0].attemptTimeoutMs',
    ],
    ['a refreshAt of 1', { refreshAt: 1 }, 'clients[0].refreshAt'],
    ['a refreshAt of 0.05', { refreshAt: 0.05 }, 'clients[0].refreshAt'],
    ['a refreshAt given as a string', { refreshAt: '0.5' }, 'clients[0].refreshAt'],
    ['a fractional maxRetries', { maxRetries: 1.5 }, 'clients[0].maxRetries'],
    ['a deadlineMs above API Gateway limits', { deadlineMs: 30_000 }, 'clients[0].deadlineMs'],
    [
      'a basicAuthEncoding without client_secret_basic',
      { authMethod: 'client_secret_post', basicAuthEncoding: 'plain' },
      'clients[0].basicAuthEncoding',
    ],
    [
      'an unknown basicAuthEncoding',
      { authMethod: 'client_secret_basic', basicAuthEncoding: 'utf8' },
      'clients[0].basicAuthEncoding',
    ],
    ['a maxLifetimeSeconds under a minute', { maxLifetimeSeconds: 30 }, 'clients[0].maxLifetimeSeconds'],
    ['a fractional maxLifetimeSeconds', { maxLifetimeSeconds: 600.5 }, 'clients[0].maxLifetimeSeconds'],
    [
      'a negative minCacheableLifetimeSeconds',
      { minCacheableLifetimeSeconds: -1 },
      'clients[0].minCacheableLifetimeSeconds',
    ],
    [
      'a minCacheableLifetimeSeconds not under maxLifetimeSeconds',
      { minCacheableLifetimeSeconds: 600, maxLifetimeSeconds: 600 },
      'clients[0].minCacheableLifetimeSeconds',
    ],
    [
      'a defaultExpiresInSeconds above maxLifetimeSeconds',
      { defaultExpiresInSeconds: 3_600, maxLifetimeSeconds: 600 },
      'clients[0].defaultExpiresInSeconds',
    ],
  ])('refuses %s, naming the field', (_case, overrides, field) => {
    // Act
    const error = configErrorOf(() => parseBrokerConfig(withClient(overrides)));

    // Assess
    expect(error.field).toBe(field);
    expect(error.message).toContain(field);
  });

  it('refuses a second client with the same name, naming the second one', () => {
    // Prepare
    const client = documentedExample.clients[0];

    // Act
    const error = configErrorOf(() => parseBrokerConfig({ clients: [client, { ...client, clientId: 'other' }] }));

    // Assess
    expect(error.field).toBe('clients[1].name');
    expect(error.message).toContain('"shop"');
  });

  it('refuses a literal secret by default, without echoing it', () => {
    // Prepare
    const input = withClient({ clientSecret: { value: 'hunter2-literal' } });

    // Act
    const error = configErrorOf(() => parseBrokerConfig(input));

    // Assess
    expect(error.field).toBe('clients[0].clientSecret.value');
    expect(error.message).toContain('Secrets Manager');
    expect(error.message).not.toContain('hunter2-literal');
  });

  it('refuses an empty literal secret even when literal secrets are allowed', () => {
    // Act
    const error = configErrorOf(() =>
      parseBrokerConfig(withClient({ clientSecret: { value: '' } }), { allowLiteralSecrets: true }),
    );

    // Assess
    expect(error.field).toBe('clients[0].clientSecret.value');
  });

  it('names the client by its index in the list', () => {
    // Prepare
    const good = documentedExample.clients[0];

    // Act
    const error = configErrorOf(() =>
      parseBrokerConfig({ clients: [good, { ...good, name: 'billing', tokenEndpoint: 'http://as.example.com' }] }),
    );

    // Assess
    expect(error.field).toBe('clients[1].tokenEndpoint');
  });
});

describe('Function: parseBrokerConfigJson', () => {
  it('parses a valid document', () => {
    // Act
    const config = parseBrokerConfigJson(JSON.stringify(documentedExample), 'BROKER_CONFIG');

    // Assess
    expect(config.clients[0]?.name).toBe('shop');
  });

  it('names the source of a document that is not JSON', () => {
    // Act
    const error = configErrorOf(() => parseBrokerConfigJson('{"clients": [', 'BROKER_CONFIG'));

    // Assess
    expect(error.field).toBe('BROKER_CONFIG');
    expect(error.message).toContain('BROKER_CONFIG is not valid JSON');
  });

  it('refuses a document that is not JSON without quoting it, which could quote a secret', () => {
    // Prepare: an unquoted literal secret breaks the JSON right where the secret stands.
    const text = '{"clients":[{"name":"shop","clientSecret":{"value":hunter2-supersecret}}]}';

    // Act
    const error = configErrorOf(() => parseBrokerConfigJson(text, 'clients.json', { allowLiteralSecrets: true }));

    // Assess
    expect(error.message).toMatch(/clients\.json is not valid JSON/);
    expect(error.message).not.toContain('hunter2');
  });

  it('passes the parse options on', () => {
    // Prepare
    const text = JSON.stringify(withClient({ clientSecret: { value: 'local-secret' } }));

    // Act
    const refused = configErrorOf(() => parseBrokerConfigJson(text, 'broker.json'));
    const allowed = parseBrokerConfigJson(text, 'broker.json', { allowLiteralSecrets: true });

    // Assess
    expect(refused.field).toBe('clients[0].clientSecret.value');
    expect(allowed.clients[0]?.clientSecret).toEqual({ kind: 'literal', value: 'local-secret' });
  });
});

describe('Function: parseBrokerConfigJson, with keys JavaScript treats specially', () => {
  it('refuses extraParams.__proto__ naming it, instead of dropping it', () => {
    // Prepare: JSON.parse keeps "__proto__" as an own key; an object literal could not express it.
    const client = JSON.stringify(documentedExample.clients[0]).replace(
      /}$/,
      ',"extraParams":{"tenant":"eu","__proto__":"x"}}',
    );

    // Act
    const error = configErrorOf(() => parseBrokerConfigJson(`{"clients":[${client}]}`, 'broker.json'));

    // Assess
    expect(error.field).toBe('clients[0].extraParams.__proto__');
    expect(error.message).toMatch(/extraParams\.__proto__ is not allowed as a parameter name$/);
  });

  it.each(['constructor', 'toString', 'hasOwnProperty'])('keeps extraParams.%s as a parameter', (key) => {
    // Prepare
    const text = JSON.stringify(withClient({ extraParams: { [key]: 'x' } }));

    // Act
    const config = parseBrokerConfigJson(text, 'broker.json');

    // Assess
    expect(config.clients[0]?.extraParams).toEqual({ [key]: 'x' });
  });

  it.each([
    ['the root', '{"__proto__":{},"clients":[]}', '__proto__'],
    [
      'a client',
      `{"clients":[${JSON.stringify(documentedExample.clients[0]).replace(/}$/, ',"__proto__":{}}')}]}`,
      'clients[0].__proto__',
    ],
  ])('refuses a __proto__ key in %s as an unknown field', (_case, text, field) => {
    // Act
    const error = configErrorOf(() => parseBrokerConfigJson(text, 'broker.json'));

    // Assess
    expect(error.field).toBe(field);
  });
});

describe('Function: parseBrokerConfig, echoing what it refuses', () => {
  it.each([
    ['a client name', { name: `Shop${'x'.repeat(100_000)}` }, 'clients[0].name'],
    ['a resource', { resource: `not a uri ${'x'.repeat(100_000)}` }, 'clients[0].resource'],
    [
      'an unknown field',
      { [`k${'x'.repeat(100_000)}`]: 1 },
      `clients[0]["k${'x'.repeat(ECHO_LIMIT - 1)}"... (100001 characters)]`,
    ],
    [
      'an extraParams key',
      { extraParams: { [`\u0000${'x'.repeat(100_000)}`]: 1 } },
      `clients[0].extraParams["${'x'.repeat(ECHO_LIMIT)}"... (100001 characters)]`,
    ],
  ])('quotes no more than the echo limit of %s', (_case, overrides, field) => {
    // Act
    const error = configErrorOf(() => parseBrokerConfig(withClient(overrides)));

    // Assess
    expect(error.field).toBe(field);
    expect(error.message.length).toBeLessThan(ECHO_LIMIT + 400);
  });

  it('does not repeat a token endpoint that does not parse: it may hold credentials', () => {
    // Act
    const error = configErrorOf(() =>
      parseBrokerConfig(withClient({ tokenEndpoint: 'https://m2m:hunter2@[bad/token' })),
    );

    // Assess
    expect(error.message).toBe('Invalid broker configuration: clients[0].tokenEndpoint is not an absolute URL');
  });
});

describe('Function: parseBrokerConfig, authMethod aws_web_identity', () => {
  /** A client authenticated by an AWS-signed assertion, as the README documents it: no clientSecret. */
  const webIdentityClient = {
    name: 'shop',
    tokenEndpoint: 'https://keycloak.example.com/realms/m2m/protocol/openid-connect/token',
    clientId: 'shop',
    authMethod: 'aws_web_identity',
    webIdentity: { audience: 'https://keycloak.example.com/realms/m2m' },
  };
  const withWebIdentity = (overrides: Record<string, unknown>) => ({
    clients: [{ ...webIdentityClient, ...overrides }],
  });

  it('takes an audience and fills in RS256 and 300 seconds, with no secret', () => {
    // Act
    const config = parseBrokerConfig({ clients: [webIdentityClient] });

    // Assess
    const client = config.clients[0];
    expect(client?.authMethod).toBe('aws_web_identity');
    expect(client?.webIdentity).toEqual({
      audience: ['https://keycloak.example.com/realms/m2m'],
      signingAlgorithm: 'RS256',
      durationSeconds: 300,
    });
    expect(client?.clientSecret).toBeUndefined();
  });

  it('takes several audiences, ES384 and a lifetime of an hour', () => {
    // Act
    const config = parseBrokerConfig(
      withWebIdentity({
        webIdentity: {
          audience: ['api://AzureADTokenExchange', 'urn:other'],
          signingAlgorithm: 'ES384',
          durationSeconds: 3600,
        },
      }),
    );

    // Assess
    expect(config.clients[0]?.webIdentity).toEqual({
      audience: ['api://AzureADTokenExchange', 'urn:other'],
      signingAlgorithm: 'ES384',
      durationSeconds: 3600,
    });
  });

  it.each([
    ['a clientSecret too', { clientSecret: { secretId: 'shop/m2m' } }, 'clients[0].clientSecret'],
    ['no webIdentity', { webIdentity: undefined }, 'clients[0].webIdentity'],
    ['no audience', { webIdentity: {} }, 'clients[0].webIdentity.audience'],
    ['an empty audience list', { webIdentity: { audience: [] } }, 'clients[0].webIdentity.audience'],
    [
      'more than 10 audiences',
      { webIdentity: { audience: Array.from({ length: 11 }, (_, i) => `aud-${i}`) } },
      'clients[0].webIdentity.audience',
    ],
    ['an empty audience', { webIdentity: { audience: ['a', ' '] } }, 'clients[0].webIdentity.audience[1]'],
    [
      'an audience over 1000 characters',
      { webIdentity: { audience: 'a'.repeat(1001) } },
      'clients[0].webIdentity.audience',
    ],
    ['a repeated audience', { webIdentity: { audience: ['a', 'a'] } }, 'clients[0].webIdentity.audience'],
    [
      'an unknown signing algorithm',
      { webIdentity: { audience: 'a', signingAlgorithm: 'ES256' } },
      'clients[0].webIdentity.signingAlgorithm',
    ],
    [
      'a lifetime under a minute',
      { webIdentity: { audience: 'a', durationSeconds: 59 } },
      'clients[0].webIdentity.durationSeconds',
    ],
    [
      'a lifetime over an hour',
      { webIdentity: { audience: 'a', durationSeconds: 3601 } },
      'clients[0].webIdentity.durationSeconds',
    ],
    ['an unknown webIdentity field', { webIdentity: { audience: 'a', tags: {} } }, 'clients[0].webIdentity.tags'],
  ])('refuses %s, naming the field', (_case, overrides, field) => {
    // Act
    const error = configErrorOf(() => parseBrokerConfig(withWebIdentity(overrides)));

    // Assess
    expect(error.field).toBe(field);
    expect(error.message).toContain(field);
  });

  it('refuses webIdentity with another authMethod', () => {
    // Act
    const error = configErrorOf(() =>
      parseBrokerConfig(withClient({ webIdentity: { audience: 'https://keycloak.example.com/realms/m2m' } })),
    );

    // Assess
    expect(error.field).toBe('clients[0].webIdentity');
    expect(error.message).toContain('applies only to authMethod aws_web_identity');
  });
});
