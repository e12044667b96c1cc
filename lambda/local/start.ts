/**
 * `npm start`: a working broker on 127.0.0.1 with nothing else to set up.
 *
 *   npm start                        embedded authorization server (client m2m / password, scope read)
 *   npm start -- --config FILE       your own authorization server, described by FILE (the token
 *                                    obtained at start is summarized, never printed)
 *
 * PORT (default 3000) sets the broker's port.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type BrokerConfig, ConfigError, parseBrokerConfig, parseBrokerConfigJson } from '../broker/core/config.ts';
import { type AuthorizationServer, SEED_CLIENT, startAuthorizationServer } from './authorization-server.ts';
import { type LocalBroker, startLocalBroker } from './local-broker.ts';
import { summarizeTokenReply } from './token-summary.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string' } }, strict: true });
  const port = parsePort(process.env.PORT);

  let authorizationServer: AuthorizationServer | undefined;
  let config: BrokerConfig;
  if (values.config) {
    config = parseBrokerConfigJson(await readFile(values.config, 'utf8'), values.config, { allowLiteralSecrets: true });
  } else {
    authorizationServer = await startAuthorizationServer();
    console.log(`Embedded authorization server: ${authorizationServer.issuer} (client m2m, scope read)`);
    config = parseBrokerConfig(
      {
        clients: [
          {
            name: 'shop',
            tokenEndpoint: authorizationServer.tokenEndpoint,
            clientId: SEED_CLIENT.clientId,
            clientSecret: { value: SEED_CLIENT.clientSecret },
            scopes: SEED_CLIENT.scopes,
          },
        ],
      },
      { allowLiteralSecrets: true },
    );
  }

  const broker = await startLocalBroker({ config, port });
  const stop = shutdown(broker, authorizationServer);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  const first = config.clients[0];
  if (!first) return;
  const url = `${broker.url}/clients/${first.name}/token`;
  console.log(`Broker listening on ${broker.url}`);
  const response = await fetch(url);
  console.log(`GET /clients/${first.name}/token -> ${response.status}`);
  const body: unknown = await response.json();
  // The embedded server's token is a demo; one from the user's own server is a real credential.
  console.log(authorizationServer ? JSON.stringify(body, null, 2) : summarizeTokenReply(body));
  const scopeQuery = first.scopes.length > 0 ? `?scope=${encodeURIComponent(first.scopes.join(' '))}` : '';
  console.log(`\nTry it:  curl -s '${url}${scopeQuery}'\nCtrl-C stops the broker.`);
}

function parsePort(value: string | undefined): number {
  if (value === undefined || value === '') return 3000;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new ConfigError('PORT', `"${value}" is not a port number`);
  return port;
}

function shutdown(broker: LocalBroker, authorizationServer: AuthorizationServer | undefined) {
  return () => {
    console.log('\nStopping...');
    Promise.all([broker.stop(), authorizationServer?.stop()]).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
}

main().catch((error: unknown) => {
  console.error(
    error instanceof ConfigError ? error.message : `Could not start the broker: ${(error as Error).message}`,
  );
  process.exit(1);
});
