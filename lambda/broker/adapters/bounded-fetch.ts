/** Largest token endpoint response body the broker reads: 1 MiB. A token response is a few KiB at most. */
export const MAX_TOKEN_RESPONSE_BYTES = 1_048_576;

/** The response body was larger than the limit; it was not read past it. */
export class ResponseTooLargeError extends Error {
  override readonly name = 'ResponseTooLargeError';
  constructor(readonly limitBytes: number) {
    super(`The response body exceeds ${limitBytes} bytes`);
  }
}

/**
 * A `fetch` whose response bodies cannot exceed `limitBytes`: a `Content-Length` over the limit is
 * refused before any of the body is read, and bytes are counted while they stream, the request
 * aborted as soon as the count passes the limit. Nothing is buffered here: the reader still
 * consumes the body chunk by chunk.
 */
export function boundedFetch(inner: typeof fetch, limitBytes: number = MAX_TOKEN_RESPONSE_BYTES): typeof fetch {
  return async (input, init) => {
    // Aborting the request is what drops the connection: cancelling the body alone may let the
    // HTTP client drain the rest of it.
    const abort = new AbortController();
    const signal = init?.signal ? AbortSignal.any([init.signal, abort.signal]) : abort.signal;
    const response = await inner(input, { ...init, signal });
    const announced = Number(response.headers.get('content-length') ?? Number.NaN);
    if (announced > limitBytes) {
      abort.abort(new ResponseTooLargeError(limitBytes));
      throw new ResponseTooLargeError(limitBytes);
    }
    if (response.body === null) return response;
    let received = 0;
    const counted = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          received += chunk.byteLength;
          if (received > limitBytes) {
            const tooLarge = new ResponseTooLargeError(limitBytes);
            controller.error(tooLarge);
            abort.abort(tooLarge);
          } else controller.enqueue(chunk);
        },
      }),
    );
    return new Response(counted, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}
