/**
 * `m2m-token-broker/cdk`: the `TokenBroker` construct for platform teams' own CDK apps.
 *
 * @example
 * import { TokenBroker } from 'm2m-token-broker/cdk';
 * const broker = new TokenBroker(this, 'Tokens', { config, vpc });
 * broker.grantTokenAccess(ordersFunction, 'shop');
 */
export type {
  AuthMethod,
  BasicAuthEncoding,
  ClientConfig,
  ClientInput,
  MutualTlsAuthMethod,
  SecretSource,
  WebIdentitySettings,
  WebIdentitySigningAlgorithm,
} from '../lambda/broker/core/config.ts';
export type { BrokerClientInput, BrokerConfigInput } from './broker-config-input.ts';
export type { BrokerDashboard } from './broker-dashboard.ts';
export type { ExistingClientSecret } from './client-secrets.ts';
export type { PrivateTokenApi, PrivateTokenApiProps } from './private-token-api.ts';
export type { SharedTokenCache, SharedTokenCacheProps } from './shared-token-cache.ts';
export { TokenBroker } from './token-broker.ts';
export type { BrokerNetwork, SharedCacheOptions, TokenBrokerProps } from './token-broker-props.ts';
