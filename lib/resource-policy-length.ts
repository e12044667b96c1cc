/**
 * What a value still unknown at synth time (a `Ref` or `Fn::*` of a role's ARN, an endpoint id)
 * takes in the deployed policy, at most: a role ARN with a path (`arn:aws:iam::` + account +
 * `:role/` + path + a 64-character name), rounded up.
 */
const UNRESOLVED_VALUE_LENGTH = 160;

/**
 * What API Gateway stores for a resource of the form `execute-api:/...`: the full ARN, with the
 * longest partition and region names and the API id.
 */
const EXPANDED_RESOURCE_PREFIX = 'arn:aws-us-gov:execute-api:ap-southeast-2:123456789012:abcdefghij/';

/**
 * The length of a resolved policy document as API Gateway counts it (its JSON text), erring on
 * the long side: unresolved values count as {@link UNRESOLVED_VALUE_LENGTH} characters, and
 * `execute-api:/` resources as the full ARNs API Gateway turns them into.
 */
export function estimatedPolicyLength(document: unknown): number {
  return JSON.stringify(withPlaceholders(document)).length;
}

function withPlaceholders(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(/^execute-api:\//, EXPANDED_RESOURCE_PREFIX);
  if (Array.isArray(value)) return value.map(withPlaceholders);
  if (typeof value !== 'object' || value === null) return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && (keys[0] === 'Ref' || keys[0]?.startsWith('Fn::'))) {
    return 'x'.repeat(UNRESOLVED_VALUE_LENGTH);
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withPlaceholders(v)]));
}
