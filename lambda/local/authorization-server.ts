/**
 * A real OpenID Certified authorization server (oidc-provider) on 127.0.0.1, registered like the
 * SimpleIdServer walk-through: client `m2m`, secret `password`, scope `read` (and `write`), token
 * endpoint `/master/token`. `npm start` embeds it; the integration tests start it too. With
 * `mutualTls`, it also serves HTTPS asking for client certificates (RFC 8705).
 *
 * Never deploy it: it keeps everything in memory and speaks plain HTTP on loopback.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import Provider, { type Adapter, type AdapterPayload, type ClientMetadata, errors } from 'oidc-provider';
import {
  clientCertificateOf,
  type MutualTlsServerOptions,
  mutualTlsFeature,
  subjectDnOf,
} from './mutual-tls-feature.ts';

export interface AuthorizationServerOptions {
  /** @default 0 (a free port) */
  readonly port?: number;
  /** Lifetime of issued access tokens. @default 3600 */
  readonly accessTokenTtlSeconds?: number;
  /** Also serve HTTPS asking for client certificates, with mutual TLS clients. @default HTTP only */
  readonly mutualTls?: MutualTlsServerOptions;
}

export interface AuthorizationServer {
  /** e.g. `http://127.0.0.1:5001/master` */
  readonly issuer: string;
  /** e.g. `http://127.0.0.1:5001/master/token` */
  readonly tokenEndpoint: string;
  /** RFC 7662 introspection, for proving an issued token is real: `${issuer}/token/introspection`. */
  readonly introspectionEndpoint: string;
  /** PEM (PKCS#8) private key registered for client `m2m-jwt` (private_key_jwt). */
  readonly m2mJwtPrivateKeyPem: string;
  /**
   * With `mutualTls`: `https://127.0.0.1:PORT/master/token`, the token endpoint's
   * `mtls_endpoint_aliases` entry (RFC 8705 §5) in the server's metadata.
   */
  readonly mtlsTokenEndpoint?: string;
  /** Token endpoint requests received, successful or not. */
  tokenRequestCount(): number;
  /**
   * For each token endpoint request, in order, the subject DN of the client certificate presented
   * with it (`CN=...,O=...`), or `undefined` when none was.
   */
  clientCertificates(): readonly (string | undefined)[];
  /** Changes what the server accepts as a client's secret (a rotation at the server). */
  setClientSecret(clientId: string, secret: string): void;
  /** Changes a client's registration, e.g. the certificate in its `jwks` (a rotation at the server). */
  updateClient(clientId: string, changes: Partial<ClientMetadata>): void;
  stop(): Promise<void>;
}

const MOUNT_PATH = '/master';
export const SEED_CLIENT = { clientId: 'm2m', clientSecret: 'password', scopes: ['read'] } as const;
/**
 * The one resource indicator (RFC 8707) the server knows: its access tokens are JWTs (RFC 9068)
 * instead of opaque, so their claims (a certificate binding's `cnf`) can be seen.
 */
export const JWT_ACCESS_TOKEN_RESOURCE = 'urn:m2m-token-broker:jwt-api';
/** oidc-provider's default client authentication methods. */
const CLIENT_AUTH_METHODS = [
  'client_secret_basic',
  'client_secret_jwt',
  'client_secret_post',
  'private_key_jwt',
  'none',
] as const;

export async function startAuthorizationServer(options: AuthorizationServerOptions = {}): Promise<AuthorizationServer> {
  const server = createServer();
  await listen(server, options.port ?? 0);
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}${MOUNT_PATH}`;

  // One provider behind both listeners, as a server that publishes mtls_endpoint_aliases: the
  // HTTPS one asks for a certificate and lets the provider judge it (self-signed ones included).
  const tls = options.mutualTls;
  const httpsServer =
    tls &&
    createHttpsServer({
      cert: tls.certificate,
      key: tls.privateKey,
      ca: tls.clientCa,
      requestCert: true,
      rejectUnauthorized: false,
    });
  if (httpsServer) await listen(httpsServer, 0);
  const mtlsTokenEndpoint = httpsServer
    ? `https://127.0.0.1:${(httpsServer.address() as AddressInfo).port}${MOUNT_PATH}/token`
    : undefined;

  const jwtClientKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const clients = new Map<string, ClientMetadata>(
    [
      machineClient('m2m', { client_secret: 'password', token_endpoint_auth_method: 'client_secret_post' }),
      machineClient('m2m-basic', { client_secret: 'password', token_endpoint_auth_method: 'client_secret_basic' }),
      machineClient('m2m-jwt', {
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [{ ...jwtClientKey.publicKey.export({ format: 'jwk' }), use: 'sig' }] },
      }),
      ...(options.mutualTls?.clients ?? []).map((c) => machineClient(c.client_id, c)),
    ].map((c) => [c.client_id, c]),
  );

  const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const provider = new Provider(issuer, {
    adapter: memoryAdapter(clients),
    jwks: { keys: [{ ...signingKey, use: 'sig', kid: 'local-signing-key' }] as never },
    cookies: { keys: ['local-only-cookie-key'] },
    features: {
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        getResourceServerInfo(_ctx, resourceIndicator) {
          if (resourceIndicator !== JWT_ACCESS_TOKEN_RESOURCE) throw new errors.InvalidTarget();
          return { scope: 'read write', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
        },
      },
      ...(options.mutualTls ? { mTLS: mutualTlsFeature() } : {}),
    },
    scopes: ['read', 'write'],
    ...(tls ? { clientAuthMethods: [...CLIENT_AUTH_METHODS, 'tls_client_auth', 'self_signed_tls_client_auth'] } : {}),
    ...(mtlsTokenEndpoint ? { discovery: { mtls_endpoint_aliases: { token_endpoint: mtlsTokenEndpoint } } } : {}),
    ttl: { ClientCredentials: options.accessTokenTtlSeconds ?? 3600 },
  });

  const certificates: (string | undefined)[] = [];
  provider.use(async (ctx, next) => {
    if (ctx.method === 'POST' && ctx.path === '/token') certificates.push(subjectDnOf(clientCertificateOf(ctx)));
    await next();
  });

  const callback = provider.callback();
  const route = (req: IncomingMessage & { originalUrl?: string }, res: ServerResponse) => {
    if (!req.url?.startsWith(`${MOUNT_PATH}/`)) {
      res.writeHead(404).end();
      return;
    }
    // oidc-provider derives its mount path from originalUrl, as under Express.
    req.originalUrl = req.url;
    req.url = req.url.slice(MOUNT_PATH.length);
    callback(req, res);
  };
  server.on('request', route);
  httpsServer?.on('request', route);

  return {
    issuer,
    tokenEndpoint: `${issuer}/token`,
    introspectionEndpoint: `${issuer}/token/introspection`,
    m2mJwtPrivateKeyPem: jwtClientKey.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    ...(mtlsTokenEndpoint ? { mtlsTokenEndpoint } : {}),
    tokenRequestCount: () => certificates.length,
    clientCertificates: () => [...certificates],
    setClientSecret(clientId, secret) {
      const client = clients.get(clientId);
      if (!client) throw new Error(`No client ${clientId}`);
      clients.set(clientId, { ...client, client_secret: secret });
    },
    updateClient(clientId, changes) {
      const client = clients.get(clientId);
      if (!client) throw new Error(`No client ${clientId}`);
      clients.set(clientId, { ...client, ...changes });
    },
    stop: async () => {
      await Promise.all([server, ...(httpsServer ? [httpsServer] : [])].map(close));
    },
  };
}

function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeAllConnections();
  });
}

function machineClient(clientId: string, metadata: Partial<ClientMetadata>): ClientMetadata {
  return {
    client_id: clientId,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: 'read write',
    ...metadata,
  };
}

/**
 * Clients come from a mutable map (so a test can rotate a secret); everything else oidc-provider
 * stores (the issued opaque tokens) lives in memory until it expires.
 */
function memoryAdapter(clients: Map<string, ClientMetadata>) {
  const stores = new Map<string, Map<string, { payload: AdapterPayload; expiresAt: number }>>();
  return (model: string): Adapter => {
    const store = stores.get(model) ?? new Map();
    stores.set(model, store);
    const live = (id: string) => {
      const entry = store.get(id);
      if (entry && entry.expiresAt <= Date.now()) store.delete(id);
      return store.get(id)?.payload;
    };
    return {
      async upsert(id, payload, expiresIn) {
        store.set(id, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : Number.POSITIVE_INFINITY });
      },
      async find(id) {
        return model === 'Client' ? (clients.get(id) as AdapterPayload | undefined) : live(id);
      },
      async findByUserCode() {
        return undefined;
      },
      async findByUid() {
        return undefined;
      },
      async consume(id) {
        const payload = live(id);
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        store.delete(id);
      },
      async revokeByGrantId(grantId) {
        for (const [id, entry] of store) if (entry.payload.grantId === grantId) store.delete(id);
      },
    };
  };
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}
