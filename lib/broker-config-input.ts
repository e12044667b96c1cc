import { Token } from 'aws-cdk-lib';
import {
  type BrokerConfig,
  type ClientInput,
  ConfigError,
  type ConfigInput,
  parseBrokerConfig,
} from '../lambda/broker/core/config.ts';

/**
 * A client entry as the construct takes it: the runtime's schema ({@link ClientInput}, documented
 * in `lambda/broker/core/config.ts`), except that `clientSecret` names an existing secret or is
 * omitted. The construct then creates a secret with a placeholder value for that client, unless
 * its `authMethod` is `aws_web_identity`, which has no secret.
 */
export interface BrokerClientInput extends Omit<ClientInput, 'clientSecret'> {
  /**
   * An existing secret: its name or ARN, and the JSON field holding the value if it is JSON.
   * Refused with `aws_web_identity`.
   * @default a new secret with a generated placeholder value (none with `aws_web_identity`)
   */
  readonly clientSecret?: { readonly secretId: string; readonly field?: string };
}

/** The configuration JSON given to the construct (`-c config=FILE` in the example app). */
export interface BrokerConfigInput extends Omit<ConfigInput, 'clients'> {
  readonly clients: readonly BrokerClientInput[];
}

/** Stands in for a secret that is resolved later (an ARN the construct fills in). */
const SECRET_PLACEHOLDER = { secretId: 'resolved-by-the-construct' };
/** Stands in for an unresolved token in a URL field, so the rest of the entry is still checked. */
const URL_PLACEHOLDER = 'https://unresolved-token.invalid/';
const URL_FIELDS: ReadonlySet<string> = new Set(['tokenEndpoint', 'mtlsTokenEndpoint', 'resource']);

/**
 * Validates `config` with the runtime's own parser, so a configuration the Lambda would reject at
 * cold start fails `cdk synth` instead. Secrets the construct supplies (`externalSecrets`) and
 * omitted secrets get a placeholder; values that are still tokens are skipped.
 *
 * @throws ConfigError naming the field (prefixed with `config.`)
 */
export function validateBrokerConfig(config: BrokerConfigInput, externalSecrets: ReadonlySet<string>): BrokerConfig {
  if (typeof config !== 'object' || config === null || !Array.isArray(config.clients)) {
    throw new ConfigError('config.clients', 'must be a non-empty array');
  }
  config.clients.forEach((client, i) => {
    if (typeof client?.name === 'string' && Token.isUnresolved(client.name)) {
      throw new ConfigError(`config.clients[${i}].name`, 'must be a literal string: it becomes an API resource path');
    }
  });
  const checkable = {
    ...withoutTokens(config as unknown as Record<string, unknown>),
    clients: config.clients.map((client) => {
      const entry = withoutTokens(client as unknown as Record<string, unknown>);
      const suppliedElsewhere =
        client.authMethod !== 'aws_web_identity' &&
        (client.clientSecret === undefined || externalSecrets.has(client.name));
      return suppliedElsewhere ? { ...entry, clientSecret: SECRET_PLACEHOLDER } : entry;
    }),
  };
  try {
    return parseBrokerConfig(checkable);
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`config.${error.field}`, error.problem);
    throw error;
  }
}

/**
 * A copy without unresolved tokens: numbers are dropped (the default applies), strings in URL
 * fields become a valid URL, other strings a plain word. Nested objects are handled recursively.
 */
function withoutTokens(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === 'number' && Token.isUnresolved(v)) continue;
    out[key] = replaceToken(key, v);
  }
  return out;
}

function replaceToken(key: string, value: unknown): unknown {
  if (typeof value === 'string') {
    if (!Token.isUnresolved(value)) return value;
    return URL_FIELDS.has(key) ? URL_PLACEHOLDER : 'unresolved-token';
  }
  if (Array.isArray(value)) return value.map((item) => replaceToken(key, item));
  if (typeof value === 'object' && value !== null && key !== 'clients') {
    return withoutTokens(value as Record<string, unknown>);
  }
  return value;
}
