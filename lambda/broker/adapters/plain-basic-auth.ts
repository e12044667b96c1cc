import * as oauth from 'oauth4webapi';

/**
 * `client_secret_basic` without the form-encoding step: `base64(client_id ":" secret)` with both as
 * they are, UTF-8 (RFC 7617 §2). RFC 6749 §2.3.1 asks clients to form-encode id and secret first
 * and servers to decode them, which is what `oauth.ClientSecretBasic` does; some servers never
 * decode, and refuse any secret with a reserved character in it.
 */
export function plainClientSecretBasic(clientSecret: string): oauth.ClientAuth {
  return (_as, client, _body, headers) => {
    const credentials = Buffer.from(`${client.client_id}:${clientSecret}`, 'utf8').toString('base64');
    headers.set('authorization', `Basic ${credentials}`);
  };
}

/**
 * Whether the plain encoding sends something other than the form one for these credentials, and
 * can be sent at all: an id with a colon cannot be told from the secret without encoding.
 */
export async function plainBasicDiffers(clientId: string, clientSecret: string): Promise<boolean> {
  if (clientId.includes(':')) return false;
  const [form, plain] = await Promise.all(
    [oauth.ClientSecretBasic(clientSecret), plainClientSecretBasic(clientSecret)].map(async (auth) => {
      const headers = new Headers();
      await auth({ issuer: 'urn:unused' }, { client_id: clientId }, new URLSearchParams(), headers);
      return headers.get('authorization');
    }),
  );
  return form !== plain;
}
