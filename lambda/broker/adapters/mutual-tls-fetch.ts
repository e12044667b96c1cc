import type { IncomingMessage } from 'node:http';
import { Agent, request } from 'node:https';
import type { ClientCertificate } from './client-certificate.ts';

/** TLS settings of the connections that present a client certificate. */
export interface MutualTlsOptions {
  /**
   * CA certificates (PEM) that may issue the authorization server's certificate: these replace
   * Node's trusted roots on these connections (tests, private PKIs).
   * @default Node's trusted roots, plus `NODE_EXTRA_CA_CERTS`
   */
  readonly ca?: string | readonly string[];
}

/**
 * The server refused the client certificate in the TLS handshake with an alert (RFC 8446 §6.2:
 * `bad_certificate`, `unknown_ca`, `certificate_required`...): a refusal of the client's
 * credentials, not a network failure to retry.
 */
export class ClientCertificateRefusedError extends Error {
  override readonly name = 'ClientCertificateRefusedError';
  constructor(
    /** The alert's name, e.g. `unknown_ca`. */
    readonly alert: string,
  ) {
    super(`The server refused the client certificate in the TLS handshake (alert ${alert})`);
  }
}

/**
 * Alerts a server sends about the client's certificate (RFC 8446 §6.2, RFC 5246 §7.2.2), by
 * number. Alerts about the server's own certificate are ours to send, and other handshake
 * failures stay network errors.
 */
const CERTIFICATE_ALERTS: ReadonlyMap<number, string> = new Map([
  [42, 'bad_certificate'],
  [43, 'unsupported_certificate'],
  [44, 'certificate_revoked'],
  [45, 'certificate_expired'],
  [46, 'certificate_unknown'],
  [48, 'unknown_ca'],
  [49, 'access_denied'],
  [51, 'decrypt_error'],
  [116, 'certificate_required'],
]);

/**
 * Node reports a received alert as `ERR_SSL_TLSV1_ALERT_UNKNOWN_CA` and the like (TLS 1.3), or as
 * `EPROTO` whose OpenSSL message ends with `SSL alert number 48` (TLS 1.2).
 */
function certificateAlertOf(error: Error & { code?: string }): string | undefined {
  const named = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(\w+)$/.exec(error.code ?? '')?.[1]?.toLowerCase();
  if (named !== undefined) return [...CERTIFICATE_ALERTS.values()].includes(named) ? named : undefined;
  if (error.code !== 'EPROTO') return undefined;
  const number = /SSL alert number (\d+)/.exec(error.message)?.[1];
  return number === undefined ? undefined : CERTIFICATE_ALERTS.get(Number(number));
}

/**
 * A `fetch` that presents `certificate` (RFC 8705 §2) on its own TLS agent, to `origin` only (see
 * {@link httpsFetch}). No keep-alive: a token request is made once per refresh, and an agent
 * without idle sockets can be dropped when the secret rotates, with nothing to close.
 */
export function mutualTlsFetch(
  certificate: ClientCertificate,
  origin: string,
  options: MutualTlsOptions = {},
): typeof fetch {
  const agent = new Agent({
    cert: certificate.certificatePem,
    key: certificate.privateKeyPem,
    ...(options.ca === undefined ? {} : { ca: options.ca as string | string[] }),
    keepAlive: false,
  });
  return httpsFetch(agent, origin);
}

/**
 * A `fetch` whose HTTPS connections trust the CA certificates `ca` (in place of Node's roots), on
 * an agent of its own; other URLs (`http:` in local runs) go to `plain`. The token endpoints' trust
 * only: the AWS SDK's connections keep Node's roots.
 */
export function trustingFetch(ca: readonly string[], plain: typeof fetch): typeof fetch {
  const agent = new Agent({ ca: [...ca], keepAlive: false });
  return (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input);
    return url.protocol === 'https:' ? send(agent, url, init) : plain(input, init);
  };
}

/**
 * A `fetch` over `node:https` with `agent`, to `origin` only: a request for any other origin is
 * refused before a connection is made, so a client certificate on the agent never reaches another
 * server and no other request goes through it.
 *
 * Node's global fetch cannot take a client certificate without undici's `Agent`, which Node does
 * not expose; this is the part of the Fetch API oauth4webapi uses (a POST with a form body,
 * `redirect: 'manual'`, an `AbortSignal`). Failures look like fetch's, so retries and error
 * mapping treat them the same: a `TypeError` whose `cause` has the network error's code, the
 * signal's reason on abort, a `TypeError` from the body stream when the connection breaks while
 * it is read. An alert refusing the client certificate is a {@link ClientCertificateRefusedError}.
 */
export function httpsFetch(agent: Agent, origin: string): typeof fetch {
  return (input, init = {}) => {
    const url = new URL(input instanceof Request ? input.url : input);
    if (url.origin !== origin) {
      return Promise.reject(new Error(`This fetch is for ${origin} only, not for ${url.origin}`));
    }
    return send(agent, url, init);
  };
}

function send(agent: Agent, url: URL, init: RequestInit = {}): Promise<Response> {
  const { signal } = init;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const body = formBody(init.body);
  const headers = Object.fromEntries(new Headers(init.headers));
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));

  return new Promise<Response>((resolve, reject) => {
    const outgoing = request(url, { method: init.method ?? 'GET', headers, agent });
    let incoming: IncomingMessage | undefined;
    const onAbort = () => {
      outgoing.destroy(signal?.reason);
      incoming?.destroy(signal?.reason);
    };
    const release = () => signal?.removeEventListener('abort', onAbort);
    signal?.addEventListener('abort', onAbort, { once: true });
    outgoing.on('error', (error) => {
      if (incoming) return; // the body stream reports it
      release();
      reject(fetchFailure(error, signal));
    });
    outgoing.once('response', (message) => {
      incoming = message;
      try {
        resolve(toResponse(message, signal, release));
      } catch (error) {
        message.destroy();
        release();
        reject(new TypeError('fetch failed', { cause: error }));
      }
    });
    outgoing.end(body);
  });
}

/** oauth4webapi sends `URLSearchParams`; a string is accepted too. */
function formBody(body: RequestInit['body']): string | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string' || body instanceof URLSearchParams) return body.toString();
  throw new TypeError('Unsupported request body');
}

function fetchFailure(error: Error & { code?: string }, signal: AbortSignal | null | undefined): unknown {
  if (signal?.aborted) return signal.reason;
  const alert = certificateAlertOf(error);
  if (alert !== undefined) return new ClientCertificateRefusedError(alert);
  return new TypeError('fetch failed', { cause: error });
}

const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([101, 204, 205, 304]);

function toResponse(message: IncomingMessage, signal: AbortSignal | null | undefined, release: () => void): Response {
  const headers = new Headers();
  for (let i = 0; i + 1 < message.rawHeaders.length; i += 2) {
    headers.append(message.rawHeaders[i] as string, message.rawHeaders[i + 1] as string);
  }
  const status = message.statusCode ?? 0;
  const init = { status, statusText: message.statusMessage ?? '', headers };
  if (NULL_BODY_STATUSES.has(status)) {
    message.resume();
    release();
    return new Response(null, init);
  }
  return new Response(bodyStream(message, signal, release), init);
}

/**
 * The response body as a web stream, read as the consumer pulls. A connection that breaks before
 * the end errors it with a `TypeError` (what fetch does); an abort with the signal's reason.
 */
function bodyStream(
  message: IncomingMessage,
  signal: AbortSignal | null | undefined,
  release: () => void,
): ReadableStream<Uint8Array> {
  let done = false;
  const finish = (controller: ReadableStreamDefaultController<Uint8Array>, error?: unknown) => {
    if (done) return;
    done = true;
    release();
    if (error === undefined) controller.close();
    else controller.error(error);
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      message.on('data', (chunk: Buffer) => {
        if (done) return;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 0) <= 0) message.pause();
      });
      message.once('end', () => finish(controller));
      message.on('error', (error) =>
        finish(controller, signal?.aborted ? signal.reason : new TypeError('terminated', { cause: error })),
      );
      message.once('close', () => {
        if (!message.complete) {
          finish(controller, signal?.aborted ? signal.reason : new TypeError('terminated'));
        }
      });
    },
    pull() {
      message.resume();
    },
    cancel() {
      done = true;
      release();
      message.destroy();
    },
  });
}
