import { createHash } from 'node:crypto';
import type { ClientConfig } from './config.ts';
import type { KeyDescriptor } from './shared-token-store.ts';

export interface CacheKey {
  /** Hex SHA-256 of everything that decides the token, and the namespace. */
  readonly key: string;
  readonly descriptor: KeyDescriptor;
}

/**
 * Cache identities. A shared table outlives deploys and may serve several stacks, so the key
 * hashes every setting that decides the token (endpoints, client id, auth method, scopes,
 * audience, resources, extra parameters), the broker client's name and the namespace: a changed client setting is a new
 * key, never another configuration's token. Computed once per client and scope set.
 */
export class CacheKeys {
  readonly #namespace: string;
  readonly #keys = new Map<ClientConfig, Map<string, CacheKey>>();

  constructor(namespace: string) {
    this.#namespace = namespace;
  }

  /** `scopes` must be normalized (sorted, unique). */
  of(client: ClientConfig, scopes: readonly string[]): CacheKey {
    let perClient = this.#keys.get(client);
    if (!perClient) {
      perClient = new Map();
      this.#keys.set(client, perClient);
    }
    const scopeText = scopes.join(' ');
    let cached = perClient.get(scopeText);
    if (!cached) {
      const identity = JSON.stringify([
        this.#namespace,
        // The broker client's name too: IAM grants tokens per name, so two entries that share an
        // OAuth client id never share a token (one may hold the wrong secret).
        client.name,
        client.tokenEndpoint.href,
        client.clientId,
        client.authMethod,
        scopes,
        client.audience ?? null,
        client.resource,
        Object.entries(client.extraParams).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        // Only when set, so that the keys of every other client stay what they were.
        ...(client.mtlsTokenEndpoint ? [client.mtlsTokenEndpoint.href] : []),
      ]);
      cached = {
        key: createHash('sha256').update(identity).digest('hex'),
        descriptor: { client: client.name, scopes },
      };
      perClient.set(scopeText, cached);
    }
    return cached;
  }
}
