import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Verdict, type VerifierOptions, verifySigV4 } from './sigv4-verifier.ts';

/**
 * A stand-in for the broker's private API on 127.0.0.1: it answers what each test scripts and,
 * when `verify` is set, first checks the SigV4 signature like API Gateway's IAM authorization,
 * answering 403 as API Gateway does when it fails.
 */
export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly verdict?: Verdict;
}

export interface ScriptedReply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** Hold the answer this long (to test timeouts and in-flight sharing). */
  readonly delayMs?: number;
}

export interface FakeBrokerOptions {
  readonly verify?: Omit<VerifierOptions, 'now'>;
  readonly reply?: (request: ReceivedRequest, index: number) => ScriptedReply;
}

export interface FakeBroker {
  /** Base URL, like a stage invoke URL: `http://127.0.0.1:PORT/prod`. */
  readonly url: string;
  readonly requests: ReceivedRequest[];
  stop(): Promise<void>;
}

const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

export function tokenBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const nowSeconds = Math.floor(Date.now() / 1000);
  return {
    access_token: 'eyJ.secret-access-token.sig',
    token_type: 'Bearer',
    expires_in: 3600,
    expires_at: nowSeconds + 3600,
    scope: 'read',
    ...overrides,
  };
}

export async function startFakeBroker(options: FakeBrokerOptions = {}): Promise<FakeBroker> {
  const requests: ReceivedRequest[] = [];
  const reply = options.reply ?? (() => ({ status: 200, body: tokenBody() }));
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers };
      const verdict = options.verify
        ? verifySigV4({ ...raw, body: Buffer.concat(chunks) }, { ...options.verify, now: new Date() })
        : undefined;
      const received = verdict === undefined ? raw : { ...raw, verdict };
      requests.push(received);
      const scripted: ScriptedReply =
        verdict !== undefined && !verdict.ok
          ? {
              status: 403,
              body: {
                message: `${SIGNATURE_MISMATCH}\n\nThe Canonical String for this request should have been\n'GET ...'`,
              },
            }
          : reply(received, requests.length - 1);
      const send = () => {
        res.writeHead(scripted.status, { 'Content-Type': 'application/json', ...scripted.headers });
        res.end(scripted.body === undefined ? '' : JSON.stringify(scripted.body));
      };
      if (scripted.delayMs) setTimeout(send, scripted.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/prod`,
    requests,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        if (!server.listening) return resolve();
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
