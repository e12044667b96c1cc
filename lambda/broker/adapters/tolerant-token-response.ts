/**
 * A successful token response without what oauth4webapi would refuse it for though a client
 * credentials token does without it: members sent as `null` (Java servers with Jackson's
 * defaults), an `expires_in` that is not a positive number (negative, empty: as good as none, so
 * the token's `exp` or the client's default applies), and `refresh_token` and `id_token`, which
 * have no use in this grant (RFC 6749 §4.4.3). Any other answer is returned as it is.
 *
 * The body is passed on through a stream, not read here: it is held until its end (within the
 * size bound of the fetch), then handed on, cleaned when it is a JSON object and unchanged when
 * not (oauth4webapi names what is wrong with it). A failure while it streams in reaches
 * oauth4webapi's read as the same error.
 */
export function tolerantTokenResponse(response: Response): Response {
  if (!response.ok || response.body === null) return response;
  const chunks: Uint8Array[] = [];
  const body = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk) {
        chunks.push(chunk);
      },
      flush(controller) {
        const received = Buffer.concat(chunks);
        // As Response.json() decodes: UTF-8, without a byte order mark.
        const cleaned = withoutNeedless(new TextDecoder().decode(received));
        controller.enqueue(cleaned === undefined ? received : Buffer.from(cleaned));
      },
    }),
  );
  const headers = new Headers(response.headers);
  headers.delete('content-length');
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}

/** `text` as JSON without the members a token response does without, or `undefined` when it is not a JSON object. */
function withoutNeedless(text: string): string | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  const needed = Object.entries(json).filter(([name, value]) => {
    const seconds = typeof value === 'number' || typeof value === 'string' ? Number(value) : 0;
    return (
      value !== null &&
      name !== 'refresh_token' &&
      name !== 'id_token' &&
      (name !== 'expires_in' || (seconds > 0 && Number.isFinite(seconds)))
    );
  });
  return JSON.stringify(Object.fromEntries(needed));
}
