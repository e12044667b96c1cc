import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseBrokerConfigJson } from '../../../../lambda/broker/core/config.ts';
import { assertProperty, expectNoLongEcho, hostileString, longStringsIn } from '../../../support/fuzz.ts';

const LITERAL_SECRET = 'fuzz-literal-secret-0c4b2e97d1';
/** Stands for a `__proto__` key: an object literal cannot hold one, the JSON text can. */
const PROTO_MARKER = '@@proto@@';
/** The root and client fields, and names JavaScript treats specially. */
const KNOWN_KEYS = [
  'clients',
  'secretTtlMs',
  'refreshWaitMs',
  'warmUpWindowSeconds',
  'warmUpMaxKeys',
  'name',
  'tokenEndpoint',
  'clientId',
  'clientSecret',
  'authMethod',
  'scopes',
  'audience',
  'resource',
  'extraParams',
  'refreshAt',
  'issuer',
  'value',
  'secretId',
  'field',
  PROTO_MARKER,
  'constructor',
  'toString',
];
/** Longest error message the parser may produce, whatever it was given. */
const MAX_MESSAGE = 1_024;

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: hostileString() },
  fc.constant(null),
  fc.integer({ min: -10, max: 100_000 }),
  fc.double(),
  fc.boolean(),
  fc.array(hostileString(), { maxLength: 3 }),
  fc.dictionary(fc.oneof(fc.constantFrom(...KNOWN_KEYS), hostileString()), hostileString(), { maxKeys: 3 }),
);
/** Mostly valid: most documents must get past the first refusal for the later checks to run at all. */
const field = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ weight: 15, arbitrary: valid }, anyValue);

/** A client: each field mostly valid, sometimes of another type or any value; sometimes extra keys. */
const client = fc
  .tuple(
    fc.record(
      {
        name: field(fc.constantFrom('shop', 'billing')),
        tokenEndpoint: field(fc.constantFrom('https://as.example.test/token', 'http://127.0.0.1:5001/token')),
        clientId: field(fc.constant('m2m')),
        clientSecret: field(
          fc.oneof(
            fc.constant({ value: LITERAL_SECRET }),
            fc.constant({ secretId: 'shop/m2m' }),
            fc.record({ secretId: fc.constant('shop/m2m'), field: field(fc.constant('clientSecret')) }),
          ),
        ),
        authMethod: field(fc.constantFrom('client_secret_post', 'client_secret_basic', 'private_key_jwt')),
        scopes: field(fc.array(field(fc.constantFrom('read', 'write')), { maxLength: 3 })),
        resource: field(fc.oneof(fc.constant('https://api.example.test/'), fc.array(field(fc.constant('urn:x:api'))))),
        extraParams: field(
          fc.dictionary(
            fc.oneof(fc.constantFrom(PROTO_MARKER, 'constructor', 'toString', 'scope', 'tenant'), hostileString()),
            field(hostileString()),
            { maxKeys: 3 },
          ),
        ),
        refreshAt: field(fc.double({ min: 0.1, max: 0.95, noNaN: true })),
        deadlineMs: field(fc.integer({ min: 5_000, max: 25_000 })),
        attemptTimeoutMs: field(fc.integer({ min: 100, max: 5_000 })),
      },
      { requiredKeys: ['name', 'tokenEndpoint', 'clientId', 'clientSecret'] },
    ),
    fc.dictionary(fc.oneof(fc.constantFrom(...KNOWN_KEYS), hostileString()), anyValue, { maxKeys: 2 }),
    fc.nat(9),
  )
  .map(([fields, extra, dice]) => (dice === 0 ? { ...extra, ...fields } : fields));

/** Valid names made unique (`shop-0`, `shop-1`): a duplicate would refuse the document before the rest is read. */
const clients = fc
  .array(client, { minLength: 1, maxLength: 3 })
  .map((list) =>
    list.map((c, index) =>
      typeof c.name === 'string' && /^[a-z]+$/.test(c.name) ? { ...c, name: `${c.name}-${index}` } : c,
    ),
  );

/** The JSON text of a document: mostly well-formed in shape, with `__proto__` keys spelled out. */
const document = fc
  .oneof(
    {
      weight: 10,
      arbitrary: fc.record(
        { clients: field(clients), secretTtlMs: field(fc.integer({ min: 0, max: 86_400_000 })) },
        { requiredKeys: ['clients'] },
      ),
    },
    fc.jsonValue({ maxDepth: 3 }),
    fc.dictionary(fc.oneof(fc.constantFrom(...KNOWN_KEYS), hostileString()), anyValue, { maxKeys: 4 }),
  )
  .map((value) => (JSON.stringify(value) ?? 'null').replaceAll(`"${PROTO_MARKER}"`, '"__proto__"'));

/** Local runs (literal secrets allowed) most of the time, so literal secrets get past the first check. */
const allowLiteralSecrets = fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, fc.constant(false));

describe('Property: parseBrokerConfigJson', () => {
  it('accepts a document or refuses it with a ConfigError naming the field, never quoting much or the secret', async () => {
    await assertProperty('config parser', document, allowLiteralSecrets, async (text, allowLiteralSecrets) => {
      // Act
      let outcome: unknown;
      try {
        outcome = parseBrokerConfigJson(text, 'broker.json', { allowLiteralSecrets });
      } catch (error) {
        outcome = error;
      }

      // Assess
      const parsed: unknown = JSON.parse(text);
      if (!(outcome instanceof Error)) {
        expectNothingDropped(parsed, outcome as { clients: { extraParams: Record<string, string> }[] });
        return;
      }
      expect(outcome).toBeInstanceOf(ConfigError);
      const { field: named, problem, message } = outcome as ConfigError;
      expect(named.length).toBeGreaterThan(0);
      expect(problem.length).toBeGreaterThan(5);
      expect(message).toBe(`Invalid broker configuration: ${named} ${problem}`);
      expect(message.length).toBeLessThanOrEqual(MAX_MESSAGE);
      expect(message).not.toContain(LITERAL_SECRET);
      expectNoLongEcho(message, longStringsIn(parsed));
    });
  });
});

/** Every extra parameter written is one the broker will send: none silently dropped (`__proto__`). */
function expectNothingDropped(parsed: unknown, config: { clients: { extraParams: Record<string, string> }[] }): void {
  const clients = (parsed as { clients: { extraParams?: Record<string, unknown> }[] }).clients;
  clients.forEach((input, index) => {
    expect(Object.keys(config.clients[index]?.extraParams ?? {})).toEqual(Object.keys(input.extraParams ?? {}));
  });
}
