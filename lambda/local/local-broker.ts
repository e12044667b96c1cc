import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { BrokerConfig } from '../broker/core/config.ts';
import type { TokenBroker } from '../broker/core/token-broker.ts';
import { type BrokerHandlerOverrides, createBrokerHandler } from '../broker/handler/create-broker-handler.ts';
import { localContext, toApiGatewayEvent } from './api-gateway-event.ts';

export interface LocalBrokerOptions extends BrokerHandlerOverrides {
  readonly config: BrokerConfig;
  /** @default 0 (a free port) */
  readonly port?: number;
  /** @default 127.0.0.1 */
  readonly host?: string;
}
export interface LocalBroker {
  /** e.g. `http://127.0.0.1:3000` */
  readonly url: string;
  /** The Lambda handler the server calls: direct invocations and warm-ups can be sent to it too. */
  invoke(event: unknown): Promise<unknown>;
  readonly broker: TokenBroker;
  stop(): Promise<void>;
}

/** Same budget as the deployed function: under API Gateway's 29 s integration limit. */
const FUNCTION_TIMEOUT_MS = 25_000;

/**
 * The broker's HTTP route on loopback, running the Lambda handler on API Gateway-shaped events.
 * It does not check SigV4: in AWS, API Gateway does that before the handler runs.
 */
export async function startLocalBroker(options: LocalBrokerOptions): Promise<LocalBroker> {
  const { config, port: listenPort, host, ...overrides } = options;
  const { handler, broker } = createBrokerHandler(config, overrides);
  const invoke = (event: unknown) => handler(event, localContext('token-broker-local', FUNCTION_TIMEOUT_MS));

  const server: Server = createServer((req, res) => {
    invoke(toApiGatewayEvent(req, 'local'))
      .then((result) => {
        const { statusCode, headers, body } = result as APIGatewayProxyResult;
        res.writeHead(statusCode, headers as Record<string, string>).end(body);
      })
      .catch(() => {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: 'internal_error', error_description: 'The broker failed; see its logs' }));
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort ?? 0, host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    invoke,
    broker,
    stop: () =>
      new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
