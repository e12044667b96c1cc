import { type BrokerConfig, parseBrokerConfig } from '../../../lambda/broker/core/config.ts';
import { type AuthorizationServer, startAuthorizationServer } from '../../../lambda/local/authorization-server.ts';

/**
 * The secret of the seed clients `m2m` and `m2m-basic` in the tests: distinctive, unlike the
 * walk-through's `password`, so the log scan (log-scan.ts) can look for it anywhere in a line.
 */
export const FIXTURE_SECRET = 'fixture-secret-6f1d0c2b9a';

/** The embedded authorization server with the seed clients' secret set to {@link FIXTURE_SECRET}. */
export async function startFixtureServer(
  options?: Parameters<typeof startAuthorizationServer>[0],
): Promise<AuthorizationServer> {
  const server = await startAuthorizationServer(options);
  server.setClientSecret('m2m', FIXTURE_SECRET);
  server.setClientSecret('m2m-basic', FIXTURE_SECRET);
  return server;
}

/** A one-client broker configuration against an authorization server (the embedded one, or a faulty one). */
export function configFor(
  server: Pick<AuthorizationServer, 'tokenEndpoint'>,
  client: Record<string, unknown> & { clientSecret: unknown },
  extra: Record<string, unknown> = {},
): BrokerConfig {
  return parseBrokerConfig(
    {
      clients: [
        { name: 'shop', tokenEndpoint: server.tokenEndpoint, clientId: 'm2m', scopes: ['read', 'write'], ...client },
      ],
      ...extra,
    },
    { allowLiteralSecrets: true },
  );
}

/**
 * RFC 7662 introspection at the authorization server: proves a served token is real and active.
 * It authenticates as `m2m-basic`, whose secret the tests never rotate.
 */
export async function introspect(server: AuthorizationServer, token: string): Promise<Record<string, unknown>> {
  const response = await fetch(server.introspectionEndpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`m2m-basic:${FIXTURE_SECRET}`).toString('base64')}`,
    },
    body: new URLSearchParams({ token }),
  });
  return (await response.json()) as Record<string, unknown>;
}

export interface TokenReply {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

export async function getToken(brokerUrl: string, client: string, scope?: string): Promise<TokenReply> {
  const query = scope === undefined ? '' : `?scope=${encodeURIComponent(scope)}`;
  const response = await fetch(`${brokerUrl}/clients/${client}/token${query}`);
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}
