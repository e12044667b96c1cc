import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A reverse proxy on 127.0.0.1 in front of a real server (the authorization server, moto), for what
 * the real server cannot do on demand: answer slowly, hold requests until released, or be down.
 * It records every request, with the AWS operation it names (`X-Amz-Target`), so tests and the
 * fleet bench count calls where they cross the wire.
 */
export interface FaultProxy {
  /** e.g. `http://127.0.0.1:39123`; paths are forwarded unchanged. */
  readonly url: string;
  /** Every request received so far, in arrival order. */
  readonly requests: readonly ProxiedRequest[];
  /** How requests received from now on are treated; requests already held stay held. */
  setMode(mode: ProxyMode): void;
  /** Resolves once `count` requests have been received in total. */
  waitForRequests(count: number): Promise<void>;
  /** Forwards the requests held so far. */
  releaseHeld(): void;
  stop(): Promise<void>;
}

export type ProxyMode =
  /** Forward at once. */
  | { readonly kind: 'pass' }
  /** Forward after `ms`. */
  | { readonly kind: 'delay'; readonly ms: number }
  /** Keep the request until {@link FaultProxy.releaseHeld}. */
  | { readonly kind: 'hold' }
  /** Reset the connection, as a server that is down. */
  | { readonly kind: 'down' };

export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
  /** The AWS API operation (`X-Amz-Target`, e.g. `DynamoDB_20120810.GetItem`), when there is one. */
  readonly operation?: string;
  /** `performance.now()` when it arrived. */
  readonly receivedAt: number;
  /** `performance.now()` when its answer was sent; unset while pending or when refused. */
  answeredAt?: number;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true });
  const requests: ProxiedRequest[] = [];
  const held: (() => void)[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const sockets = new Set<Socket>();
  let mode: ProxyMode = { kind: 'pass' };

  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse, record: ProxiedRequest) => {
    if (res.destroyed) return;
    const out = request(
      {
        agent,
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.once('end', () => {
          record.answeredAt = performance.now();
        });
      },
    );
    out.once('error', () => res.destroy());
    out.end(body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => {
      const operation = req.headers['x-amz-target'];
      const record: ProxiedRequest = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        ...(typeof operation === 'string' ? { operation } : {}),
        receivedAt: performance.now(),
      };
      requests.push(record);
      for (const waiter of waiters.filter((w) => requests.length >= w.count)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
      const body = Buffer.concat(chunks);
      const go = () => forward(req, body, res, record);
      switch (mode.kind) {
        case 'pass':
          return go();
        case 'delay':
          return void setTimeout(go, mode.ms);
        case 'hold':
          return void held.push(go);
        case 'down':
          return void req.socket.resetAndDestroy();
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setMode(next) {
      mode = next;
    },
    waitForRequests(count) {
      if (requests.length >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    releaseHeld() {
      for (const go of held.splice(0)) go();
    },
    stop: () =>
      new Promise((resolve, reject) => {
        held.splice(0);
        for (const socket of sockets) socket.destroy();
        agent.destroy();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
