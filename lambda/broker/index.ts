/**
 * The broker Lambda's entry point. Module scope runs once per cold start: the configuration is
 * parsed here, so an invalid one fails the cold start with a message naming the field.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigError, parseBrokerConfigJson } from './core/config.ts';
import { createTokenBroker } from './handler/create-broker.ts';
import { createHandler } from './handler/create-handler.ts';
import { powertoolsTelemetry } from './handler/telemetry.ts';

/** Name of the environment variable that holds the configuration JSON (set by the CDK construct). */
export const CONFIG_ENV = 'BROKER_CONFIG';

const logger = new Logger({ serviceName: 'token-broker' });
const metrics = new Metrics({ namespace: 'M2MTokenBroker', serviceName: 'token-broker' });
const tracer = new Tracer({ serviceName: 'token-broker' });

function loadConfig() {
  const text = process.env[CONFIG_ENV];
  if (!text) throw new ConfigError(CONFIG_ENV, 'is not set: it must hold the broker configuration JSON');
  return parseBrokerConfigJson(text, CONFIG_ENV);
}

const broker = createTokenBroker(loadConfig(), {
  telemetry: powertoolsTelemetry(logger, metrics),
  secretsManager: tracer.captureAWSv3Client(new SecretsManagerClient({})),
});

export const handler = createHandler({ broker, logger, metrics, tracer });
