import type { IncomingHttpHeaders } from 'node:http';
import type { APIGatewayProxyResult } from 'aws-lambda';

/**
 * The `Host` values that name a server listening on `address` (e.g. `127.0.0.1`, `::1`) and
 * `port`: the address itself and `localhost`, with the port (without it too on port 80, where
 * clients leave it out). Lowercase, as {@link refusalOfWebPageRequest} compares them.
 */
export function loopbackHosts(address: string, port: number): readonly string[] {
  const names = [urlHost(address), 'localhost'];
  return names.flatMap((name) => (port === 80 ? [`${name}:80`, name] : [`${name}:${port}`]));
}

/** An address as it appears in a URL or a `Host` header: IPv6 in brackets. */
export function urlHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/**
 * A web page can make a browser send requests to 127.0.0.1, and with DNS rebinding (its own host
 * name re-resolved to 127.0.0.1) read the answers as same-origin: those requests name the page's
 * host in `Host`. A cross-origin request carries `Origin`. curl and the caller library send
 * neither, so either one is refused here, before the broker runs, with a plain-text reason.
 *
 * @returns the refusal, or `undefined` for a request the broker may answer
 */
export function refusalOfWebPageRequest(
  headers: IncomingHttpHeaders,
  hosts: readonly string[],
): APIGatewayProxyResult | undefined {
  if (headers.origin !== undefined) {
    return plainText(403, 'Refused: the request has an Origin header: web pages may not use the local broker');
  }
  if (!hosts.includes(headers.host?.toLowerCase() ?? '')) {
    // The Host received is not repeated: it is whatever the page chose.
    return plainText(421, `Refused: the Host must be ${hosts.join(' or ')}, the address the local broker listens on`);
  }
  return undefined;
}

function plainText(statusCode: number, message: string): APIGatewayProxyResult {
  return { statusCode, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: `${message}\n` };
}
