/**
 * The caller library: `import { TokenBrokerClient } from '<repo>/lambda/client/index.ts'`.
 *
 * The direct-invocation transport lives in `./invoke-transport.ts`, a separate entry, so that callers of the
 * HTTP API do not bundle the Lambda client.
 */
export type { BrokerToken } from './broker-response.ts';
export type { AwsCredentials, AwsCredentialsProvider } from './credentials.ts';
export { TokenBrokerConfigError, TokenBrokerError, type TokenBrokerErrorCode } from './errors.ts';
export { type Fetch, HttpTransport, type HttpTransportOptions } from './http-transport.ts';
export { TokenBrokerClient, type TokenBrokerClientOptions } from './token-broker-client.ts';
export type { BrokerResponse, TokenRequest, TokenTransport } from './token-transport.ts';
