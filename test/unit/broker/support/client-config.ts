import { type BrokerConfig, type ClientConfig, parseBrokerConfig } from '../../../../lambda/broker/core/config.ts';

export const TOKEN_ENDPOINT = 'https://as.example.test/oauth2/token';
export const CLIENT_SECRET = 'shop-client-secret-DO-NOT-LEAK';

/** A client named `shop` with a literal secret, through the real parser; `overrides` win. */
export function clientConfig(overrides: Record<string, unknown> = {}): ClientConfig {
  const client = brokerConfig([{ name: 'shop', ...overrides }]).clients[0];
  if (!client) throw new Error('no client parsed');
  return client;
}

/** A configuration of clients with literal secrets (as in local runs), parsed by the real parser. */
export function brokerConfig(clients: Record<string, unknown>[], root: Record<string, unknown> = {}): BrokerConfig {
  return parseBrokerConfig(
    {
      ...root,
      clients: clients.map((client) => ({
        tokenEndpoint: TOKEN_ENDPOINT,
        clientId: `${String(client.name)}-m2m`,
        clientSecret: { value: CLIENT_SECRET },
        scopes: ['read', 'write'],
        ...client,
      })),
    },
    { allowLiteralSecrets: true },
  );
}
