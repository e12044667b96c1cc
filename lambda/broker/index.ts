/**
 * The broker Lambda's entry point. Module scope runs once per cold start: the configuration is
 * parsed here, so an invalid one fails the cold start with a message naming the field.
 */
import { ENV } from '../shared/contract.ts';
import { ConfigError, parseBrokerConfigJson } from './core/config.ts';
import { createBrokerHandler } from './handler/create-broker-handler.ts';
import { serviceNameFrom } from './handler/service-name.ts';
import { sharedCacheSettingsFrom } from './handler/shared-cache-settings.ts';
import { trustedCaFrom } from './handler/trusted-ca-settings.ts';

function loadConfig() {
  const text = process.env[ENV.brokerConfig];
  if (!text) throw new ConfigError(ENV.brokerConfig, 'is not set: it must hold the broker configuration JSON');
  return parseBrokerConfigJson(text, ENV.brokerConfig);
}

const sharedCache = sharedCacheSettingsFrom(process.env);
const trustedCa = trustedCaFrom(process.env);

export const { handler } = createBrokerHandler(loadConfig(), {
  serviceName: serviceNameFrom(process.env),
  ...(sharedCache ? { sharedCache } : {}),
  ...(trustedCa ? { trustedCa } : {}),
});
