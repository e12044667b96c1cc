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
    const response = await inner(input, init);
    const announced = Number(response.headers.get('content-length') ?? Number.NaN);
    if (announced > limitBytes) {
      await response.body?.cancel().catch(() => {});
      throw new ResponseTooLargeError(limitBytes);
    }
    if (response.body === null) return response;
    let received = 0;
    const counted = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          received += chunk.byteLength;
          // Erroring the stream cancels its source: the connection is dropped, not drained.
          if (received > limitBytes) controller.error(new ResponseTooLargeError(limitBytes));
          else controller.enqueue(chunk);
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
