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
