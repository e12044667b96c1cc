import { Logger } from '@aws-lambda-powertools/logger';
import { TokenBrokerClient } from '../client/index.ts';
import { createConsumerHandler } from './consumer-handler.ts';

/**
 * Example consumer function. Environment (set by the example stack):
 * `TOKEN_BROKER_URL` (the broker API's invoke URL) and `TOKEN_BROKER_CLIENT` (default `shop`).
 * Its role needs the construct's `grantTokenAccess(fn, client)`.
 */
export const handler = createConsumerHandler({
  // Module scope: the client's cache outlives one invocation.
  tokens: new TokenBrokerClient(),
  client: process.env.TOKEN_BROKER_CLIENT ?? 'shop',
  logger: new Logger({ serviceName: 'token-broker-consumer' }),
});
