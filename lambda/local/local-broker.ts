import { createServer, type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { checkLiteralPrivateKeys } from '../broker/adapters/private-key.ts';
import type { BrokerConfig } from '../broker/core/config.ts';
import { BrokerError } from '../broker/core/errors.ts';
import type { TokenBroker } from '../broker/core/token-broker.ts';
import { type BrokerHandlerOverrides, createBrokerHandler } from '../broker/handler/create-broker-handler.ts';
import { errorReply, toApiGatewayResult } from '../broker/handler/responses.ts';
import { localContext, toApiGatewayEvent } from './api-gateway-event.ts';
import { loopbackHosts, refusalOfWebPageRequest, urlHost } from './dns-rebinding-guard.ts';

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
 * It does not check SigV4: in AWS, API Gateway does that before the handler runs. Requests a web
 * page could have sent (a `Host` other than the listening address or `localhost` with its port, or
 * an `Origin` header) are refused before the handler runs. A literal private key that is not one
 * fails the start with a `ConfigError` naming its field.
 */
export async function startLocalBroker(options: LocalBrokerOptions): Promise<LocalBroker> {
  const { config, port: listenPort, host, ...overrides } = options;
  await checkLiteralPrivateKeys(config);
  const { handler, broker } = createBrokerHandler(config, overrides);
  const invoke = (event: unknown) => handler(event, localContext('token-broker-local', FUNCTION_TIMEOUT_MS));
  // Set once listening; no request arrives before.
  let hosts: readonly string[] = [];

  const server: Server = createServer((req, res) => {
    answer(req, hosts, invoke)
      .then((result) => send(res, result))
      .catch(() => res.destroy());
  });
  // CONNECT never reaches the request listener; unanswered, Node would just close the connection.
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    answer(req, hosts, invoke)
      .then((result) => socket.end(rawHttpResponse(result)))
      .catch(() => socket.destroy());
  });
  // What Node's HTTP parser refuses (a malformed request line, oversized headers) gets a JSON
  // answer too, not Node's bare 400.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable || error.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    socket.end(rawHttpResponse(toApiGatewayResult(errorReply(malformedRequest(error)))));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort ?? 0, host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  hosts = loopbackHosts(address, port);
  return {
    url: `http://${urlHost(address)}:${port}`,
    invoke,
    broker,
    stop: () =>
      new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/**
 * One request, every failure caught, never rejected: a request a web page could have sent is
 * refused (403 or 421); a request the route cannot turn into an event is refused with 400 (and the
 * process goes on serving); a handler failure is a 500.
 */
async function answer(
  req: IncomingMessage,
  hosts: readonly string[],
  invoke: (event: unknown) => Promise<unknown>,
): Promise<APIGatewayProxyResult> {
  const refusal = refusalOfWebPageRequest(req.headers, hosts);
  if (refusal) return refusal;
  let event: unknown;
  try {
    event = toApiGatewayEvent(req, 'local');
  } catch {
    return toApiGatewayResult(errorReply(new BrokerError('invalid_request', 'The request could not be read')));
  }
  try {
    return (await invoke(event)) as APIGatewayProxyResult;
  } catch {
    return toApiGatewayResult(errorReply(new BrokerError('internal_error', 'The local route failed')));
  }
}

function send(res: ServerResponse, { statusCode, headers, body }: APIGatewayProxyResult): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(statusCode, headers as Record<string, string>).end(body);
}

function malformedRequest(error: NodeJS.ErrnoException): BrokerError {
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW' || error.code === 'HPE_URI_TOO_LONG';
  return new BrokerError(
    'invalid_request',
    tooLarge ? 'The request line or headers are too large' : 'The HTTP request is malformed',
  );
}

function rawHttpResponse({ statusCode, headers, body }: APIGatewayProxyResult): string {
  const lines = Object.entries({ ...headers, 'Content-Length': Buffer.byteLength(body), Connection: 'close' }).map(
    ([name, value]) => `${name}: ${value}`,
  );
  return [`HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode] ?? ''}`, ...lines, '', body].join('\r\n');
}
