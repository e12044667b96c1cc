/** What the fake token endpoint saw of one request. */
export interface RecordedRequest {
  readonly url: string;
  readonly headers: Headers;
  readonly form: URLSearchParams;
}

/** One scripted answer: a response, a rejection, or a function of the request's signal. */
export type Answer = Response | Error | ((signal: AbortSignal | undefined) => Promise<Response>);

export interface ScriptedFetch {
  readonly fetch: typeof fetch;
  readonly requests: RecordedRequest[];
}

/**
 * A `fetch` that answers from a script, one answer per call; the last answer repeats. For answers a
 * real authorization server does not give on demand (5xx, 429, malformed bodies, hangs).
 */
export function scriptedFetch(...script: (() => Answer)[]): ScriptedFetch {
  const requests: RecordedRequest[] = [];
  const fake = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    requests.push({
      url: String(input),
      headers: new Headers(init?.headers),
      form: new URLSearchParams(String(init?.body ?? '')),
    });
    const next = script[Math.min(requests.length, script.length) - 1];
    if (!next) throw new Error('scriptedFetch needs at least one answer');
    const answer = next();
    if (answer instanceof Error) throw answer;
    if (answer instanceof Response) return answer;
    return answer(init?.signal ?? undefined);
  };
  return { fetch: fake as typeof fetch, requests };
}

export function tokenResponse(body: Record<string, unknown>, init: ResponseInit = {}): () => Response {
  return () => Response.json(body, { status: 200, ...init });
}

export function errorResponse(
  status: number,
  body?: Record<string, unknown>,
  headers?: Record<string, string>,
): () => Response {
  return () =>
    body === undefined ? new Response(null, { status, headers }) : Response.json(body, { status, headers });
}

/** fetch's own failure when the server cannot be reached. */
export function connectionRefused(): () => Error {
  return () => new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
}

/** A server that never answers: the request ends only when its signal aborts. */
export function hangs(): () => Answer {
  return () => (signal) =>
    new Promise<Response>((_, reject) => {
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
}

/** A 200 whose body starts, then the connection breaks: fetch's `terminated` TypeError while it is read. */
export function bodyBreaksOff(): () => Answer {
  return () => {
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) controller.error(new TypeError('terminated', { cause: { code: 'ECONNRESET' } }));
        else controller.enqueue(new TextEncoder().encode('{"access_token":"half'));
        sent = true;
      },
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
  };
}

/** A 200 whose body starts, then stalls until the request's signal aborts (as fetch's body does). */
export function bodyStalls(): () => Answer {
  return () => async (signal) => {
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (!sent) {
          sent = true;
          controller.enqueue(new TextEncoder().encode('{"access_token":"half'));
          return;
        }
        return new Promise<void>((_, reject) => {
          signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
        });
      },
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
  };
}

/** A 200 body of `bytes` bytes, produced as it is read; `pulled()` tells how many were produced. */
export function largeBody(bytes: number, options: { announceLength?: boolean } = {}) {
  let produced = 0;
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  const answer = (): Answer => {
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (produced >= bytes) {
          controller.close();
          return;
        }
        const next = chunk.subarray(0, Math.min(chunk.length, bytes - produced));
        produced += next.length;
        controller.enqueue(next);
      },
    });
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (options.announceLength) headers['content-length'] = String(bytes);
    return new Response(body, { status: 200, headers });
  };
  return { answer, produced: () => produced };
}
