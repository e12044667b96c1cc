import type { TokenBrokerClient } from '../client/index.ts';
import { TokenBrokerError } from '../client/index.ts';

export interface ConsumerLogger {
  info(message: string, extra: Record<string, unknown>): void;
  error(message: string, extra: Record<string, unknown>): void;
}

export interface ConsumerDeps {
  readonly tokens: Pick<TokenBrokerClient, 'getToken'>;
  /** The broker client (OAuth client) to ask a token for. */
  readonly client: string;
  readonly logger: ConsumerLogger;
}

export interface ConsumerResult {
  readonly expiresAt: string;
  readonly scope: string;
}

/**
 * The example consumer: gets a token and reports what a real function would check before calling
 * an API. It logs the expiry and scope only; the token itself never leaves the function.
 */
export function createConsumerHandler(deps: ConsumerDeps): () => Promise<ConsumerResult> {
  return async () => {
    try {
      const token = await deps.tokens.getToken({ client: deps.client });
      const result = { expiresAt: token.expiresAt.toISOString(), scope: token.scope };
      deps.logger.info('Got a token from the broker', { client: deps.client, ...result });
      return result;
    } catch (error) {
      if (error instanceof TokenBrokerError) {
        deps.logger.error('Could not get a token', {
          client: deps.client,
          code: error.code,
          status: error.status,
          description: error.description,
        });
      }
      throw error;
    }
  };
}
