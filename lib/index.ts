/**
 * `m2m-token-broker/cdk`: the `TokenBroker` construct for platform teams' own CDK apps.
 *
 * @example
 * import { TokenBroker } from 'm2m-token-broker/cdk';
 * const broker = new TokenBroker(this, 'Tokens', { config, vpc });
 * broker.grantTokenAccess(ordersFunction, 'shop');
 */
export type { BrokerClientInput, BrokerConfigInput } from './broker-config-input.ts';
export { TokenBroker } from './token-broker.ts';
export type { SharedCacheOptions, TokenBrokerProps } from './token-broker-props.ts';
