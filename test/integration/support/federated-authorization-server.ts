/**
 * A token endpoint that authenticates clients by federated client assertions, the way Keycloak's
 * "Signed JWT - Federated" authenticator and Entra ID's federated identity credentials do: the
 * assertion's issuer and subject (not RFC 7523's `iss` = `sub` = client_id) pick the client, its
 * audience must be the one that client expects, and its signature is checked against the issuer's
 * JWKS. It then issues an opaque access token (client credentials grant).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';

/** One trust relationship: a token from `issuer` about `subject` for `audience` authenticates `clientId`. */
export interface FederatedClient {
  readonly clientId: string;
  readonly issuer: string;
  readonly subject: string;
  readonly audience: string;
  /** Where the issuer's signing keys are. */
  readonly jwksUri: string;
}

export interface FederatedAuthorizationServerOptions {
  readonly clients: readonly FederatedClient[];
  /** @default 3600 */
  readonly accessTokenTtlSeconds?: number;
  /**
   * Whether an assertion may authenticate more than once while it is valid (Keycloak: the
   * identity provider's client assertion reuse). Without it, each `jti` is accepted once.
   * @default true
   */
  readonly assertionReuse?: boolean;
}

export interface AcceptedAssertion {
  readonly clientId: string;
  readonly alg: string;
  readonly iss: string;
  readonly sub: string;
  readonly aud: string | string[];
}

export interface FederatedAuthorizationServer {
  /** e.g. `http://127.0.0.1:5002/realms/m2m`: also the audience the clients below expect. */
  readonly issuer: string;
  readonly tokenEndpoint: string;
  /** Token endpoint requests received, successful or not. */
  tokenRequestCount(): number;
  /** Assertions that authenticated a client, in order. */
  accepted(): readonly AcceptedAssertion[];
  /** The client an access token was issued to, if this server issued it. */
  issuedTo(accessToken: string): string | undefined;
  stop(): Promise<void>;
}

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** `optionsFor` gets the server's issuer URL, which the clients' expected audience usually is (as in Keycloak). */
export async function startFederatedAuthorizationServer(
  optionsFor: (issuer: string) => FederatedAuthorizationServerOptions,
): Promise<FederatedAuthorizationServer> {
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}/realms/m2m`;
  const options = optionsFor(issuer);
  const keySets = new Map(options.clients.map((c) => [c.jwksUri, createRemoteJWKSet(new URL(c.jwksUri))]));
  const usedJtis = new Set<string>();
  const tokens = new Map<string, string>();
  const accepted: AcceptedAssertion[] = [];
  let requests = 0;

  const authenticate = async (form: URLSearchParams): Promise<FederatedClient | undefined> => {
    const assertion = form.get('client_assertion');
    if (form.get('client_assertion_type') !== JWT_BEARER || !assertion) return undefined;
    let claims: ReturnType<typeof decodeJwt>;
    try {
      claims = decodeJwt(assertion);
    } catch {
      return undefined;
    }
    const client = options.clients.find((c) => c.issuer === claims.iss && c.subject === claims.sub);
    if (!client || (form.has('client_id') && form.get('client_id') !== client.clientId)) return undefined;
    try {
      const { payload } = await jwtVerify(
        assertion,
        keySets.get(client.jwksUri) as ReturnType<typeof createRemoteJWKSet>,
        {
          issuer: client.issuer,
          subject: client.subject,
          audience: client.audience,
          algorithms: ['RS256', 'ES384'],
          requiredClaims: ['exp', 'iat', 'jti'],
        },
      );
      if (options.assertionReuse === false) {
        if (usedJtis.has(payload.jti as string)) return undefined;
        usedJtis.add(payload.jti as string);
      }
      const { alg } = decodeProtectedHeader(assertion);
      accepted.push({
        clientId: client.clientId,
        alg: alg as string,
        iss: payload.iss as string,
        sub: payload.sub as string,
        aud: payload.aud as string | string[],
      });
      return client;
    } catch {
      return undefined;
    }
  };

  server.on('request', (req, res) => {
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || req.url !== '/realms/m2m/token') {
      answer(404, { error: 'not_found' });
      return;
    }
    requests++;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      if (form.get('grant_type') !== 'client_credentials') {
        answer(400, { error: 'unsupported_grant_type' });
        return;
      }
      authenticate(form).then(
        (client) => {
          if (!client) {
            answer(400, { error: 'invalid_client', error_description: 'Client authentication failed' });
            return;
          }
          const accessToken = randomBytes(24).toString('base64url');
          tokens.set(accessToken, client.clientId);
          answer(200, {
            access_token: accessToken,
            token_type: 'Bearer',
            expires_in: options.accessTokenTtlSeconds ?? 3600,
            scope: form.get('scope') ?? '',
          });
        },
        () => answer(500, { error: 'server_error' }),
      );
    });
  });

  return {
    issuer,
    tokenEndpoint: `${issuer}/token`,
    tokenRequestCount: () => requests,
    accepted: () => [...accepted],
    issuedTo: (accessToken) => tokens.get(accessToken),
    stop: () =>
      new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
