import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ConfigError } from '../core/config.ts';

/** Bounds on every call of an AWS SDK client. */
export interface SdkCallBounds {
  /** Longest wait for a TCP/TLS connection, per attempt. */
  readonly connectionTimeoutMs: number;
  /** Longest wait for a whole request and its response, per attempt. */
  readonly requestTimeoutMs: number;
  /** Attempts per call, the first included (the SDK's standard retry mode between them). */
  readonly maxAttempts: number;
}

/**
 * SDK client settings under which a call takes at most about
 * `maxAttempts × (connectionTimeoutMs + requestTimeoutMs)` plus the SDK's back-off between
 * attempts, so a hung service cannot hold a request past its budget. The SDK's defaults would wait
 * without limit. `owner` names the caller in a validation error.
 */
export function boundedSdkConfig(owner: string, bounds: SdkCallBounds) {
  const connectionTimeout = positive(owner, 'connectionTimeoutMs', bounds.connectionTimeoutMs);
  const requestTimeout = positive(owner, 'requestTimeoutMs', bounds.requestTimeoutMs);
  const maxAttempts = positive(owner, 'maxAttempts', bounds.maxAttempts);
  return {
    maxAttempts,
    // Without throwOnRequestTimeout, a request past requestTimeout only logs a warning and waits on.
    requestHandler: new NodeHttpHandler({ connectionTimeout, requestTimeout, throwOnRequestTimeout: true }),
  };
}

function positive(owner: string, field: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(`${owner}.${field}`, 'must be a positive integer');
  return value;
}
