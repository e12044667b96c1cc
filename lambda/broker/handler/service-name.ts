import { ENV, SERVICE_NAME, SERVICE_NAME_PATTERN, SERVICE_NAME_SYNTAX } from '../../shared/contract.ts';
import { ConfigError } from '../core/config.ts';
import { quoteInput } from '../core/quote-input.ts';

/**
 * The broker's service name from `POWERTOOLS_SERVICE_NAME`, as the construct sets it; unset or
 * empty is the default. One that could not be a metric dimension fails the cold start, naming
 * the variable, rather than publishing metrics no alarm watches.
 *
 * @throws ConfigError naming the variable
 */
export function serviceNameFrom(env: Readonly<Record<string, string | undefined>>): string {
  const name = env[ENV.powertoolsServiceName];
  if (name === undefined || name === '') return SERVICE_NAME;
  if (!SERVICE_NAME_PATTERN.test(name)) {
    throw new ConfigError(ENV.powertoolsServiceName, `must be ${SERVICE_NAME_SYNTAX}, not ${quoteInput(name)}`);
  }
  return name;
}
