import type { AddressInfo } from 'node:net';
import { createServer, type Socket } from 'node:net';

/** A loopback server that accepts connections and never answers: a hung AWS service endpoint. */
export interface HungServer {
  /** e.g. `http://127.0.0.1:39123` */
  readonly url: string;
  stop(): Promise<void>;
}

export async function startHungServer(): Promise<HungServer> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
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
    stop: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
