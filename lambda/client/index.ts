/**
 * `m2m-token-broker/client`, the caller library: `import { TokenBrokerClient } from 'm2m-token-broker/client'`.
 *
 * The direct-invocation transport lives in `./invoke-transport.ts`, a separate entry, so that callers of the
 * HTTP API do not bundle the Lambda client.
 */

export type { BrokerErrorCode } from '../shared/error-codes.ts';
export type { BrokerToken } from './broker-response.ts';
export type { AwsCredentials, AwsCredentialsProvider } from './credentials.ts';
export {
  TokenBrokerConfigError,
  TokenBrokerError,
  type TokenBrokerErrorCode,
  type TokenBrokerErrorOptions,
} from './errors.ts';
export { type Fetch, HttpTransport, type HttpTransportOptions } from './http-transport.ts';
export { TokenBrokerClient, type TokenBrokerClientOptions } from './token-broker-client.ts';
export type { BrokerResponse, TokenRequest, TokenTransport } from './token-transport.ts';
