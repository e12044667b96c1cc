import { InvokeCommand, type InvokeCommandOutput, LambdaClient, LambdaServiceException } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TokenBrokerClient } from '../../../lambda/client/index.ts';
import { LambdaInvokeTransport } from '../../../lambda/client/invoke-transport.ts';

const lambdaMock = mockClient(LambdaClient);
/** The SDK types Payload as its blob adapter; a plain Uint8Array is what the transport reads. */
const encode = (value: unknown) =>
  new TextEncoder().encode(JSON.stringify(value)) as unknown as InvokeCommandOutput['Payload'];
const nowSeconds = () => Math.floor(Date.now() / 1000);

function serviceError(name: string, httpStatusCode: number, message: string): LambdaServiceException {
  return new LambdaServiceException({ name, $fault: 'client', $metadata: { httpStatusCode }, message });
}

function clientWithInvoke(): TokenBrokerClient {
  const transport = new LambdaInvokeTransport({
    functionName: 'token-broker',
    lambdaClient: new LambdaClient({ region: 'eu-west-1' }),
  });
  return new TokenBrokerClient({ transport, deadlineMs: 2_000, maxRetries: 1 });
}

describe('Class: LambdaInvokeTransport', () => {
  afterEach(() => {
    lambdaMock.reset();
    vi.unstubAllEnvs();
  });

  it('invokes the broker with { client, scopes } and returns its token', async () => {
    // Prepare
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: encode({
        statusCode: 200,
        access_token: 'tok',
        token_type: 'Bearer',
        expires_in: 300,
        expires_at: nowSeconds() + 300,
        scope: 'read write',
      }),
    });

    // Act
    const token = await clientWithInvoke().getToken({ client: 'shop', scopes: ['write', 'read'] });

    // Assess
    expect(token).toMatchObject({ accessToken: 'tok', tokenType: 'Bearer', scope: 'read write' });
    const input = lambdaMock.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(input?.FunctionName).toBe('token-broker');
    expect(JSON.parse(new TextDecoder().decode(input?.Payload as Uint8Array))).toEqual({
      client: 'shop',
      scopes: ['read', 'write'],
    });
  });

  it('leaves scopes out for the default scopes', async () => {
    // Prepare
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: encode({
        statusCode: 200,
        access_token: 'tok',
        token_type: 'Bearer',
        expires_in: 300,
        expires_at: nowSeconds() + 300,
        scope: 'read',
      }),
    });

    // Act
    await clientWithInvoke().getToken({ client: 'shop' });

    // Assess
    const payload = lambdaMock.commandCalls(InvokeCommand)[0]?.args[0].input.Payload as Uint8Array;
    expect(JSON.parse(new TextDecoder().decode(payload))).toEqual({ client: 'shop' });
  });

  it('sends a freshness requirement as minTtlSeconds', async () => {
    // Prepare
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: encode({
        statusCode: 200,
        access_token: 'tok',
        token_type: 'Bearer',
        expires_in: 300,
        expires_at: nowSeconds() + 300,
        scope: 'read',
      }),
    });

    // Act
    await clientWithInvoke().getToken({ client: 'shop', minTtlSeconds: 120 });

    // Assess
    const payload = lambdaMock.commandCalls(InvokeCommand)[0]?.args[0].input.Payload as Uint8Array;
    expect(JSON.parse(new TextDecoder().decode(payload))).toEqual({ client: 'shop', minTtlSeconds: 120 });
  });

  it.each([
    [400, 'invalid_scope'],
    [404, 'unknown_client'],
    [502, 'upstream_rejected'],
  ])('throws the broker error of a %i result without retrying: %s', async (statusCode, error) => {
    // Prepare
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: encode({ statusCode, error, error_description: 'described' }),
    });

    // Act
    const result = clientWithInvoke().getToken({ client: 'shop' });

    // Assess
    await expect(result).rejects.toMatchObject({ code: error, status: statusCode, description: 'described' });
    expect(lambdaMock.commandCalls(InvokeCommand)).toHaveLength(1);
  });

  it('retries an unhandled function error and reports broker_unavailable without its message', async () => {
    // Prepare
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: encode({ errorType: 'Runtime.ExitError', errorMessage: 'details not ours to vet' }),
    });

    // Act
    const error = await clientWithInvoke()
      .getToken({ client: 'shop' })
      .catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({
      code: 'broker_unavailable',
      description: 'The broker function failed (Runtime.ExitError)',
    });
    expect(String(error)).not.toContain('details not ours to vet');
    expect(lambdaMock.commandCalls(InvokeCommand)).toHaveLength(2);
  });

  it('maps AccessDeniedException to access_denied without retrying', async () => {
    // Prepare
    lambdaMock
      .on(InvokeCommand)
      .rejects(
        serviceError(
          'AccessDeniedException',
          403,
          'User: arn:aws:sts::123456789012:assumed-role/consumer/fn is not authorized to perform: lambda:InvokeFunction',
        ),
      );

    // Act
    const result = clientWithInvoke().getToken({ client: 'shop' });

    // Assess
    await expect(result).rejects.toMatchObject({ code: 'access_denied', status: 403 });
    expect(lambdaMock.commandCalls(InvokeCommand)).toHaveLength(1);
  });

  it('retries TooManyRequestsException and reports throttled', async () => {
    // Prepare
    lambdaMock.on(InvokeCommand).rejects(serviceError('TooManyRequestsException', 429, 'Rate Exceeded.'));

    // Act
    const result = clientWithInvoke().getToken({ client: 'shop' });

    // Assess
    await expect(result).rejects.toMatchObject({ code: 'throttled', status: 429 });
    expect(lambdaMock.commandCalls(InvokeCommand)).toHaveLength(2);
  });

  it('maps a missing function to unexpected_response without retrying', async () => {
    // Prepare
    lambdaMock.on(InvokeCommand).rejects(serviceError('ResourceNotFoundException', 404, 'Function not found'));

    // Act
    const result = clientWithInvoke().getToken({ client: 'shop' });

    // Assess
    await expect(result).rejects.toMatchObject({ code: 'unexpected_response', status: 404 });
    expect(lambdaMock.commandCalls(InvokeCommand)).toHaveLength(1);
  });

  it('reads the function name from TOKEN_BROKER_FUNCTION and needs no AWS_REGION for an ARN', async () => {
    // Prepare
    vi.stubEnv('TOKEN_BROKER_FUNCTION', 'arn:aws:lambda:eu-central-1:123456789012:function:token-broker');
    vi.stubEnv('AWS_REGION', '');
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: encode({
        statusCode: 200,
        access_token: 'tok',
        token_type: 'Bearer',
        expires_in: 300,
        expires_at: nowSeconds() + 300,
        scope: 'read',
      }),
    });
    const client = new TokenBrokerClient({ transport: new LambdaInvokeTransport() });

    // Act
    await client.getToken({ client: 'shop' });

    // Assess
    const call = lambdaMock.commandCalls(InvokeCommand)[0];
    expect(call?.args[0].input.FunctionName).toBe('arn:aws:lambda:eu-central-1:123456789012:function:token-broker');
  });

  it('fails at construction without a function name', () => {
    // Prepare
    vi.stubEnv('TOKEN_BROKER_FUNCTION', '');

    // Act
    const construct = () => new LambdaInvokeTransport({ region: 'eu-west-1' });

    // Assess
    expect(construct).toThrow(expect.objectContaining({ name: 'TokenBrokerConfigError', field: 'functionName' }));
  });
});
