import type * as oauth from 'oauth4webapi';
import type { BasicAuthEncoding } from '../core/config.ts';

/**
 * `client_secret_basic`: `Basic base64(id ":" secret)`, UTF-8 (RFC 7617 §2). `form` first encodes
 * both as RFC 6749 §2.3.1 asks, with the application/x-www-form-urlencoded serializer (the URL
 * Standard's, URLSearchParams's: letters, digits and `*-._` stay as they are, a space is `+`), for
 * servers to decode; `plain` sends them as they are, for servers that never decode and refuse any
 * secret with a reserved character in it.
 */
export function clientSecretBasic(clientSecret: string, encoding: BasicAuthEncoding): oauth.ClientAuth {
  const encode = encoding === 'form' ? formEncode : (value: string) => value;
  return (_as, client, _body, headers) => {
    const credentials = Buffer.from(`${encode(client.client_id)}:${encode(clientSecret)}`).toString('base64');
    headers.set('authorization', `Basic ${credentials}`);
  };
}

/**
 * Whether the plain encoding sends something other than the form one for these credentials, and
 * can be sent at all: an id with a colon cannot be told from the secret without encoding.
 */
export function plainBasicDiffers(clientId: string, clientSecret: string): boolean {
  return !clientId.includes(':') && (formEncode(clientId) !== clientId || formEncode(clientSecret) !== clientSecret);
}

function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}
