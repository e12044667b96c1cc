import type { AddressInfo } from 'node:net';
import { createServer, type Socket } from 'node:net';

/**
 * An authorization server that is down: a loopback port the test holds for its whole run, where
 * every connection is reset as soon as it is accepted. Unlike a fixed port (something may listen on
 * port 9) or a port freed by closing a server (another process may take it meanwhile), nothing else
 * can answer here.
 */
export interface DownServer {
  /** e.g. `http://127.0.0.1:39123/token` */
  readonly tokenEndpoint: string;
  stop(): Promise<void>;
}

export async function startDownServer(): Promise<DownServer> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.resetAndDestroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    tokenEndpoint: `http://127.0.0.1:${port}/token`,
    stop: () =>
      new Promise((resolve, reject) => {
        for (const socket of sockets) socket.destroy();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
