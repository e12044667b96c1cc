/**
 * How much the broker saves a caller, measured in one run on this machine (ratios, not absolute
 * times: machines are shared and noisy).
 *
 *   direct   each call does its own client-credentials request to the authorization server
 *            (what every Lambda would do without the broker, like the seed's console app)
 *   broker   each call asks the local broker over HTTP (API Gateway-shaped event, same handler
 *            as the Lambda); the broker answers from its cache
 *   invoke   each call invokes the broker handler directly (no HTTP), from its cache
 *
 * Run: npm run bench
 */
import { performance } from 'node:perf_hooks';
import { parseBrokerConfig } from '../lambda/broker/core/config.ts';
import { startAuthorizationServer } from '../lambda/local/authorization-server.ts';
import { startLocalBroker } from '../lambda/local/local-broker.ts';

const CALLS = Number(process.env.BENCH_CALLS ?? 300);
const CONCURRENT = 20;

async function time(label: string, call: () => Promise<unknown>): Promise<{ label: string; perCallMs: number }> {
  for (let i = 0; i < 20; i++) await call();
  const start = performance.now();
  for (let i = 0; i < CALLS; i++) await call();
  return { label, perCallMs: (performance.now() - start) / CALLS };
}

async function main(): Promise<void> {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  const server = await startAuthorizationServer();
  const broker = await startLocalBroker({
    config: parseBrokerConfig(
      {
        clients: [
          {
            name: 'shop',
            tokenEndpoint: server.tokenEndpoint,
            clientId: 'm2m',
            clientSecret: { value: 'password' },
            scopes: ['read', 'write'],
          },
        ],
      },
      { allowLiteralSecrets: true },
    ),
  });
  try {
    const direct = () =>
      fetch(server.tokenEndpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&client_id=m2m&client_secret=password&scope=read',
      }).then((r) => r.json());
    const viaBroker = () => fetch(`${broker.url}/clients/shop/token?scope=read`).then((r) => r.json());
    const viaInvoke = () => broker.invoke({ client: 'shop', scopes: ['read'] });

    const results = [await time('direct', direct), await time('broker', viaBroker), await time('invoke', viaInvoke)];
    const base = results[0]?.perCallMs ?? 1;
    console.log(`${CALLS} sequential calls each (after 20 warm-up calls)`);
    for (const r of results) {
      console.log(
        `${r.label.padEnd(8)} ${r.perCallMs.toFixed(3).padStart(8)} ms/call   ratio to direct ${(r.perCallMs / base).toFixed(3)}`,
      );
    }

    const before = server.tokenRequestCount();
    const burst = await Promise.all(
      Array.from({ length: CONCURRENT }, () => fetch(`${broker.url}/clients/shop/token?scope=write`)),
    );
    console.log(
      `${CONCURRENT} concurrent first requests for a scope set not cached yet: ${server.tokenRequestCount() - before} token request(s) at the server, statuses ${[...new Set(burst.map((r) => r.status))].join(',')}`,
    );
  } finally {
    await broker.stop();
    await server.stop();
  }
}

await main();
