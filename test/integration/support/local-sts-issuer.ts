/**
 * A local stand-in for AWS STS `GetWebIdentityToken` (IAM outbound identity federation), which no
 * local STS implements. It mints JWTs shaped like STS's: `iss` an account issuer URL
 * (`https://<uuid>.tokens.sts.global.api.aws`), `sub` the caller's role ARN, `aud` the requested
 * audience, `iat`/`exp`/`jti`, the AWS claims under `https://sts.amazonaws.com/`, signed RS256 or
 * ES384. Its JWKS and discovery document are served on 127.0.0.1, where the test's authorization
 * server fetches them: the issuer URL itself cannot be served locally.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GetWebIdentityTokenCommandInput, GetWebIdentityTokenCommandOutput } from '@aws-sdk/client-sts';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

export interface LocalStsIssuer {
  /** e.g. `https://0f6c...-....tokens.sts.global.api.aws`: the `iss` of every token. */
  readonly issuer: string;
  /** Where the issuer's JWKS is served locally (at AWS: `${issuer}/.well-known/jwks.json`). */
  readonly jwksUri: string;
  /** The `sub` of every token: the broker's role. */
  readonly roleArn: string;
  /** Answers a `GetWebIdentityToken` request as STS does (an STS client mock calls it). */
  getWebIdentityToken(input: GetWebIdentityTokenCommandInput): Promise<Partial<GetWebIdentityTokenCommandOutput>>;
  /** Every token minted so far, in order. */
  issued(): readonly string[];
  stop(): Promise<void>;
}

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const ALGORITHMS = ['RS256', 'ES384'] as const;

export async function startLocalStsIssuer(): Promise<LocalStsIssuer> {
  const issuer = `https://${randomUUID()}.tokens.sts.global.api.aws`;
  const roleArn = `arn:aws:iam::${ACCOUNT}:role/TokenBrokerFunctionRole`;
  const keys = await Promise.all(
    ALGORITHMS.map(async (alg) => {
      const { privateKey, publicKey } = await generateKeyPair(alg);
      const kid = `${alg.toLowerCase()}-${randomUUID()}`;
      return { alg, kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } as JWK };
    }),
  );
  const issued: string[] = [];

  const server: Server = createServer((req, res) => {
    const documents: Record<string, unknown> = {
      '/.well-known/jwks.json': { keys: keys.map((k) => k.jwk) },
      '/.well-known/openid-configuration': {
        issuer,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        id_token_signing_alg_values_supported: ALGORITHMS,
      },
    };
    const body = req.method === 'GET' ? documents[req.url ?? ''] : undefined;
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    issuer,
    jwksUri: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    roleArn,
    async getWebIdentityToken(input) {
      const audience = input.Audience ?? [];
      const key = keys.find((k) => k.alg === input.SigningAlgorithm);
      const duration = input.DurationSeconds ?? 300;
      if (audience.length < 1 || audience.length > 10 || !key || duration < 60 || duration > 3600) {
        throw Object.assign(new Error('1 validation error detected'), { name: 'ValidationError', $metadata: {} });
      }
      const iat = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({
        'https://sts.amazonaws.com/': {
          aws_account: ACCOUNT,
          source_region: REGION,
          lambda_source_function_arn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:token-broker`,
        },
      })
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
        .setIssuer(issuer)
        .setSubject(roleArn)
        .setAudience(audience.length === 1 ? (audience[0] as string) : audience)
        .setIssuedAt(iat)
        .setExpirationTime(iat + duration)
        .setJti(randomUUID())
        .sign(key.privateKey);
      issued.push(token);
      return { WebIdentityToken: token, Expiration: new Date((iat + duration) * 1000) };
    },
    issued: () => [...issued],
    stop: () =>
      new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
