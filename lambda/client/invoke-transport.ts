/**
 * Direct Lambda invocation of the broker function, for callers outside the broker's VPC:
 * `import { LambdaInvokeTransport } from '<repo>/lambda/client/invoke-transport.ts'`.
 *
 * A separate entry point so that callers of the HTTP API do not bundle `@aws-sdk/client-lambda`.
 */
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { ENV, MIN_TTL } from '../shared/contract.ts';
import { TokenBrokerConfigError, TokenBrokerError, type TokenBrokerErrorCode } from './errors.ts';
import type { BrokerResponse, TokenRequest, TokenTransport } from './token-transport.ts';

export interface LambdaInvokeTransportOptions {
  /**
   * Name or ARN of the broker function.
   * @default process.env.TOKEN_BROKER_FUNCTION
   */
  readonly functionName?: string;
  /**
   * Region of the broker function.
   * @default the region in a function ARN, else process.env.AWS_REGION
   */
  readonly region?: string;
  /**
   * The Lambda client to invoke with (inject one in tests).
   * @default a `LambdaClient` for `region` with SDK retries off (`maxAttempts: 1`): `TokenBrokerClient`
   * retries within its own deadline
   */
  readonly lambdaClient?: LambdaClient;
}

/** Invokes the broker with `{ client, scopes? }`; the function answers `{ statusCode, ...body }`. */
export class LambdaInvokeTransport implements TokenTransport {
  readonly #functionName: string;
  readonly #lambda: LambdaClient;

  constructor(options: LambdaInvokeTransportOptions = {}) {
    const functionName = options.functionName ?? process.env[ENV.brokerFunction];
    if (!functionName) {
      throw new TokenBrokerConfigError('functionName', `is required (or set ${ENV.brokerFunction})`);
    }
    this.#functionName = functionName;
    const arnRegion = /^arn:aws[a-z-]*:lambda:([a-z0-9-]+):/.exec(functionName)?.[1];
    const region = options.region ?? arnRegion ?? process.env.AWS_REGION;
    if (options.lambdaClient === undefined && !region) {
      throw new TokenBrokerConfigError('region', 'is required (or set AWS_REGION)');
    }
    this.#lambda = options.lambdaClient ?? new LambdaClient({ region, maxAttempts: 1 });
  }

  async send(request: TokenRequest, signal: AbortSignal): Promise<BrokerResponse> {
    const payload = {
      client: request.client,
      ...(request.scopes === undefined ? {} : { scopes: request.scopes }),
      ...(request.minTtlSeconds === undefined ? {} : { [MIN_TTL.directField]: request.minTtlSeconds }),
    };
    let output: InvokeCommandOutput;
    try {
      output = await this.#lambda.send(
        new InvokeCommand({
          FunctionName: this.#functionName,
          Payload: new TextEncoder().encode(JSON.stringify(payload)),
        }),
        { abortSignal: signal },
      );
    } catch (error) {
      if (signal.aborted) throw error;
      throw invokeError(error);
    }
    const result = parsePayload(output.Payload);
    if (output.FunctionError !== undefined) {
      // An unhandled error or a timeout in the broker: its message is not ours to vet, its type is enough.
      const errorType = typeof result?.errorType === 'string' ? result.errorType : output.FunctionError;
      throw new TokenBrokerError('broker_unavailable', `The broker function failed (${errorType})`);
    }
    if (result === undefined || typeof result.statusCode !== 'number') {
      throw new TokenBrokerError('unexpected_response', 'The broker function returned no statusCode');
    }
    const { statusCode, ...body } = result;
    return { status: statusCode, body };
  }
}

function parsePayload(payload: Uint8Array | undefined): Record<string, unknown> | undefined {
  if (payload === undefined || payload.length === 0) return undefined;
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(payload));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Lambda service errors: 403 and AccessDenied mean IAM said no, 429 throttling, 5xx a failing service. */
function invokeError(error: unknown): TokenBrokerError {
  const e = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const status = e.$metadata?.httpStatusCode;
  if (status === undefined) {
    return new TokenBrokerError('network_error', 'Could not reach the Lambda service', { cause: error });
  }
  const code: TokenBrokerErrorCode =
    e.name === 'AccessDeniedException' || status === 403
      ? 'access_denied'
      : e.name === 'TooManyRequestsException' || status === 429
        ? 'throttled'
        : status >= 500
          ? 'broker_unavailable'
          : 'unexpected_response';
  const message = (e.message ?? '').split(/\r?\n/, 1)[0]?.slice(0, 300) ?? '';
  return new TokenBrokerError(code, `Lambda Invoke failed: ${e.name ?? 'Error'}${message ? `: ${message}` : ''}`, {
    status,
    cause: error,
  });
}
