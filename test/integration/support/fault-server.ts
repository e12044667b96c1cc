import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * How the fault server answers one token request. Everything is off by default: a 200 token
 * response with `token_type` `Bearer` and `expires_in` 3600.
 */
export interface Fault {
  /** Wait this long before answering. @default 0 */
  readonly delayMs?: number;
  /** Reset the connection before the answer's first byte, or after part of its body. */
  readonly reset?: 'before-answer' | 'mid-body';
  /** Send the headers and part of the body, then nothing more (the connection stays open). */
  readonly stallMidBody?: boolean;
  /** @default 200 */
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The whole body, as is (a string) or as JSON, or made from the request (a server that echoes
   * what it received); replaces the token response built from the fields below.
   */
  readonly body?: string | Readonly<Record<string, unknown>> | ((request: SeenRequest) => Record<string, unknown>);
  /** @default a new value per request, `fault-token-N` */
  readonly accessToken?: string;
  /** @default 'Bearer' */
  readonly tokenType?: string;
  /** `null` leaves it out. @default 3600 */
  readonly expiresIn?: number | null;
  /**
   * Stream this many bytes of body instead (a JSON string padded with spaces), in 64 KiB chunks,
   * stopping when the client goes away.
   */
  readonly bodyBytes?: number;
  /** With `bodyBytes`: announce the size in `Content-Length` (otherwise the body is chunked). @default false */
  readonly announceLength?: boolean;
  /**
   * Accept only this exact `Authorization: Basic` value, compared byte for byte without any
   * decoding: `base64(clientId ":" secret)` as is. Anything else gets a 401 with an empty body,
   * like servers that do not URL-decode Basic credentials (RFC 6749 §2.3.1 says they should).
   */
  readonly rawBasic?: { readonly clientId: string; readonly secret: string };
}

/** What the fault server saw of one token request. */
export interface SeenRequest {
  readonly authorization: string | undefined;
  readonly form: URLSearchParams;
}

/**
 * A deliberately misbehaving authorization server for the tests: each request is answered with
 * the next {@link Fault} of the script (the last one repeats), so a test can make the server hang,
 * break off, answer garbage or compare credentials the wrong way, which a real server does not do
 * on demand.
 */
export interface FaultServer {
  /** e.g. `http://127.0.0.1:39123/token` */
  readonly tokenEndpoint: string;
  /** Replaces the script: one fault per request, the last one repeats. */
  answer(...faults: Fault[]): void;
  readonly requests: SeenRequest[];
  /** Body bytes written for requests whose client went away before the end. */
  abandonedBodyBytes(): number[];
  stop(): Promise<void>;
}

const CHUNK_BYTES = 64 * 1024;

export async function startFaultServer(): Promise<FaultServer> {
  let script: Fault[] = [{}];
  const requests: SeenRequest[] = [];
  const abandoned: number[] = [];
  let issued = 0;

  const server = createServer((req, res) => {
    readBody(req).then((text) => {
      const seen: SeenRequest = { authorization: req.headers.authorization, form: new URLSearchParams(text) };
      requests.push(seen);
      const fault = script[Math.min(requests.length, script.length) - 1] ?? {};
      issued++;
      const answer = () => respond(fault, seen, req, res, `fault-token-${issued}`, abandoned);
      if (fault.delayMs) setTimeout(answer, fault.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    tokenEndpoint: `http://127.0.0.1:${port}/token`,
    answer(...faults) {
      script = faults.length > 0 ? faults : [{}];
    },
    requests,
    abandonedBodyBytes: () => [...abandoned],
    stop: () =>
      new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function respond(
  fault: Fault,
  seen: SeenRequest,
  req: IncomingMessage,
  res: ServerResponse,
  defaultToken: string,
  abandoned: number[],
): void {
  if (fault.reset === 'before-answer') {
    req.socket.resetAndDestroy();
    return;
  }
  if (fault.rawBasic && req.headers.authorization !== rawBasic(fault.rawBasic)) {
    res.writeHead(401).end();
    return;
  }
  if (fault.bodyBytes !== undefined) {
    streamBody(fault, res, fault.bodyBytes, abandoned);
    return;
  }
  const body = bodyOf(fault, seen, defaultToken);
  res.writeHead(fault.status ?? 200, {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(body)),
    ...fault.headers,
  });
  if (fault.reset === 'mid-body' || fault.stallMidBody) {
    res.write(body.slice(0, Math.floor(body.length / 2)));
    // The half already written reaches the client before the connection breaks.
    if (fault.reset === 'mid-body') setTimeout(() => req.socket.resetAndDestroy(), 20);
    return;
  }
  res.end(body);
}

function rawBasic({ clientId, secret }: { clientId: string; secret: string }): string {
  return `Basic ${Buffer.from(`${clientId}:${secret}`, 'utf8').toString('base64')}`;
}

function bodyOf(fault: Fault, seen: SeenRequest, defaultToken: string): string {
  if (typeof fault.body === 'string') return fault.body;
  if (typeof fault.body === 'function') return JSON.stringify(fault.body(seen));
  if (fault.body !== undefined) return JSON.stringify(fault.body);
  const expiresIn = fault.expiresIn === undefined ? 3600 : fault.expiresIn;
  return JSON.stringify({
    access_token: fault.accessToken ?? defaultToken,
    token_type: fault.tokenType ?? 'Bearer',
    ...(expiresIn === null ? {} : { expires_in: expiresIn }),
  });
}

/** `{"access_token":"` + spaces... : valid JSON so far, never finished before `total` bytes. */
function streamBody(fault: Fault, res: ServerResponse, total: number, abandoned: number[]): void {
  res.writeHead(fault.status ?? 200, {
    'Content-Type': 'application/json',
    ...(fault.announceLength ? { 'Content-Length': String(total) } : {}),
    ...fault.headers,
  });
  const opening = Buffer.from('{"access_token":"');
  const filler = Buffer.alloc(CHUNK_BYTES, 0x61);
  let written = 0;
  let gone = false;
  res.once('close', () => {
    if (written < total) {
      gone = true;
      abandoned.push(written);
    }
  });
  const writeMore = (): void => {
    while (!gone && written < total) {
      const chunk = written === 0 ? opening : filler.subarray(0, Math.min(CHUNK_BYTES, total - written));
      written += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', writeMore);
        return;
      }
    }
    if (!gone) res.end();
  };
  writeMore();
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}
