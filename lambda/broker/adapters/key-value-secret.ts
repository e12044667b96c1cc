import type { ClientConfig } from '../core/config.ts';
import { BrokerError } from '../core/errors.ts';

/**
 * The client's secret, unless it is a Secrets Manager key/value secret (a JSON object) read whole,
 * without `clientSecret.field`: sent as a client secret it would hand the server every value in it.
 * One with the member `formatKey` (a private JWK's `kty`) is a format of its own, used whole. The
 * error names the secret, never its content.
 */
export function refuseKeyValueSecret(client: ClientConfig, secret: string, formatKey?: string): string {
  const source = client.clientSecret;
  if (source?.kind !== 'secretsManager' || source.field !== undefined) return secret;
  let parsed: unknown;
  try {
    parsed = JSON.parse(secret);
  } catch {
    return secret;
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    Array.isArray(parsed) ||
    (formatKey !== undefined && formatKey in parsed)
  ) {
    return secret;
  }
  throw new BrokerError(
    'internal_error',
    `Secret ${source.secretId} is a JSON object; set clientSecret.field to the key that holds the secret`,
  );
}
