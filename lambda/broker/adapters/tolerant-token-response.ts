/**
 * A successful token response without what oauth4webapi would refuse it for though a client
 * credentials token does without it: members sent as `null` (Java servers with Jackson's
 * defaults), an `expires_in` that is not a positive number (negative, empty: as good as none, so
 * the token's `exp` or the client's default applies), and `refresh_token` and `id_token`, which
 * have no use in this grant (RFC 6749 §4.4.3). Apigee's `token_type` `BearerToken` is `Bearer`. Any
 * other answer is returned as it is.
 *
 * oauth4webapi reads a token response with `response.json()`: that read is wrapped, so the body
 * still streams in through the size-bounded fetch, and a failure while it does (reset, stall,
 * too large) reaches oauth4webapi as the same error. A body that is not a JSON object is handed on
 * unchanged (oauth4webapi names what is wrong with it).
 */
export function tolerantTokenResponse(response: Response): Response {
  if (!response.ok) return response;
  const json = response.json.bind(response);
  (response as { json: () => Promise<unknown> }).json = async () => withoutNeedless(await json());
  return response;
}

function withoutNeedless(json: unknown): unknown {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return json;
  const entries = Object.entries(json).map(([name, value]) =>
    name === 'token_type' && /^bearertoken$/i.test(String(value)) ? [name, 'Bearer'] : [name, value],
  );
  return Object.fromEntries(
    entries.filter(([name, value]) => {
      const seconds = typeof value === 'number' || typeof value === 'string' ? Number(value) : 0;
      return (
        value !== null &&
        name !== 'refresh_token' &&
        name !== 'id_token' &&
        (name !== 'expires_in' || (seconds > 0 && Number.isFinite(seconds)))
      );
    }),
  );
}
