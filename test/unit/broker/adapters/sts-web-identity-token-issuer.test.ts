import {
  GetWebIdentityTokenCommand,
  OutboundWebIdentityFederationDisabledException,
  STSClient,
} from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createStsClient } from '../../../../lambda/broker/adapters/sts-client.ts';
import {
  ENABLE_OUTBOUND_FEDERATION,
  StsWebIdentityTokenIssuer,
} from '../../../../lambda/broker/adapters/sts-web-identity-token-issuer.ts';
import type { WebIdentitySettings } from '../../../../lambda/broker/core/config.ts';
import { BrokerError } from '../../../../lambda/broker/core/errors.ts';

const SETTINGS: WebIdentitySettings = {
  audience: ['https://keycloak.example.com/realms/m2m', 'urn:second'],
  signingAlgorithm: 'ES384',
  durationSeconds: 900,
};

/**
 * No local STS implements GetWebIdentityToken: the request shape and the answers are mocked.
 * test/integration/broker-web-identity.test.ts runs the whole path against a local issuer.
 */
describe('Class: StsWebIdentityTokenIssuer', () => {
  const client = new STSClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-used' },
  });
  const sts = mockClient(client);
  const issuer = new StsWebIdentityTokenIssuer(client);

  afterEach(() => {
    sts.reset();
  });

  function awsError(name: string, extra: Record<string, unknown> = {}): Error {
    return Object.assign(new Error(`${name}: the service says no`), { name, $metadata: {}, ...extra });
  }

  async function failureOf(outcome: Promise<unknown>): Promise<BrokerError> {
    const error = await outcome.then(
      () => new Error('expected the call to fail'),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BrokerError);
    return error as BrokerError;
  }

  it("asks for the client's audiences, algorithm and lifetime, and returns the token with STS's expiry", async () => {
    // Prepare
    const expiration = new Date('2025-01-01T00:15:00Z');
    sts
      .on(GetWebIdentityTokenCommand)
      .resolves({ WebIdentityToken: 'header.payload.signature', Expiration: expiration });

    // Act
    const token = await issuer.issue('shop', SETTINGS);

    // Assess
    expect(token).toEqual({ value: 'header.payload.signature', expiresAt: expiration.getTime() });
    expect(sts.commandCalls(GetWebIdentityTokenCommand).map((call) => call.args[0].input)).toEqual([
      {
        Audience: ['https://keycloak.example.com/realms/m2m', 'urn:second'],
        SigningAlgorithm: 'ES384',
        DurationSeconds: 900,
      },
    ]);
  });

  it('returns a token without an expiry when STS gives none (the cache then counts from the request)', async () => {
    // Prepare
    sts.on(GetWebIdentityTokenCommand).resolves({ WebIdentityToken: 'header.payload.signature' });

    // Act
    const token = await issuer.issue('shop', SETTINGS);

    // Assess
    expect(token).toEqual({ value: 'header.payload.signature' });
  });

  it('reports outbound federation disabled as upstream_rejected saying how to enable it, which repeats until someone does', async () => {
    // Prepare
    sts
      .on(GetWebIdentityTokenCommand)
      .rejects(
        new OutboundWebIdentityFederationDisabledException({ message: 'disabled', $metadata: { httpStatusCode: 403 } }),
      );

    // Act
    const error = await failureOf(issuer.issue('shop', SETTINGS));

    // Assess
    expect(error.code).toBe('upstream_rejected');
    expect(error.rejection).toBe('request_rejected');
    expect(error.description).toContain('client shop');
    expect(error.description).toContain('outbound identity federation is disabled');
    expect(error.description).toContain(ENABLE_OUTBOUND_FEDERATION);
    expect(ENABLE_OUTBOUND_FEDERATION).toContain('aws iam enable-outbound-web-identity-federation');
  });

  it.each([
    ['Throttling', {}],
    ['ThrottlingException', {}],
    ['InternalFailure', {}],
    ['ServiceUnavailable', {}],
    ['TimeoutError', {}],
    ['TypeError', { code: 'ECONNREFUSED' }],
    ['SomethingNew', { $retryable: { throttling: false } }],
    ['SomethingElse', { $metadata: { httpStatusCode: 503 } }],
  ])('reports %s as secret_store_unavailable with a Retry-After, like Secrets Manager', async (name, extra) => {
    // Prepare
    sts.on(GetWebIdentityTokenCommand).rejects(awsError(name, extra));

    // Act
    const error = await failureOf(issuer.issue('shop', SETTINGS));

    // Assess
    expect(error.code).toBe('secret_store_unavailable');
    expect(error.description).toContain('AWS STS is unavailable');
    expect(error.description).toContain(name);
    expect(error.retryAfterSeconds).toBe(1);
  });

  it.each(['AccessDenied', 'SessionDurationEscalationException', 'JWTPayloadSizeExceededException'])(
    'reports %s as internal_error naming it and the client',
    async (name) => {
      // Prepare
      sts.on(GetWebIdentityTokenCommand).rejects(awsError(name, { $metadata: { httpStatusCode: 403 } }));

      // Act
      const error = await failureOf(issuer.issue('shop', SETTINGS));

      // Assess
      expect(error.code).toBe('internal_error');
      expect(error.description).toBe(`AWS STS refused the web identity token of client shop (${name})`);
    },
  );

  it('reports an answer without a token as internal_error', async () => {
    // Prepare
    sts.on(GetWebIdentityTokenCommand).resolves({});

    // Act
    const error = await failureOf(issuer.issue('shop', SETTINGS));

    // Assess
    expect(error.code).toBe('internal_error');
  });
});

describe('Function: createStsClient', () => {
  beforeEach(() => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'not-used');
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  /** The host a GetWebIdentityToken call would go to, captured before anything is sent. */
  async function hostOf(client: STSClient): Promise<string> {
    let host = '';
    client.middlewareStack.add(
      () => async (args) => {
        host = (args.request as { hostname: string }).hostname;
        throw new Error('captured');
      },
      { step: 'build' },
    );
    await client
      .send(new GetWebIdentityTokenCommand({ Audience: ['a'], SigningAlgorithm: 'RS256' }))
      .catch(() => undefined);
    return host;
  }

  it.each(['us-east-1', 'eu-west-1'])("calls the regional endpoint of the Lambda's region (%s)", async (region) => {
    // Prepare
    vi.stubEnv('AWS_REGION', region);

    // Act
    const host = await hostOf(createStsClient());

    // Assess
    expect(host).toBe(`sts.${region}.amazonaws.com`);
  });

  it('(positive control) sees the global endpoint, where GetWebIdentityToken does not exist, when a client asks for it', async () => {
    // Prepare
    vi.stubEnv('AWS_REGION', 'us-east-1');

    // Act
    const host = await hostOf(new STSClient({ useGlobalEndpoint: true }));

    // Assess
    expect(host).toBe('sts.amazonaws.com');
  });
});
