import { Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { BrokerClientInput } from './broker-config-input.ts';

/** The runtime's defaults (`lambda/broker/core/config.ts`), for clients that leave them out. */
const DEFAULT_SIGNING_ALGORITHM = 'RS256';
const DEFAULT_DURATION_SECONDS = 300;

/**
 * Lets `grantee` (the broker's role) call `sts:GetWebIdentityToken` for the `aws_web_identity`
 * clients, and for nothing else: IAM's condition keys limit the request to their audiences
 * (`sts:IdentityTokenAudience`, every requested audience one of them, and at least one), their
 * signing algorithms (`sts:SigningAlgorithm`) and their longest lifetime (`sts:DurationSeconds`).
 * The action takes no resource ARN, so the statement names `*`. With no such client, no
 * permission.
 */
export function grantWebIdentityTokens(grantee: iam.IGrantable, clients: readonly BrokerClientInput[]): iam.Grant {
  const settings = clients.flatMap((c) =>
    c.authMethod === 'aws_web_identity' && c.webIdentity ? [c.webIdentity] : [],
  );
  if (settings.length === 0) return iam.Grant.drop(grantee, 'sts:GetWebIdentityToken: no aws_web_identity client');
  const audiences = unique(settings.flatMap((s) => (typeof s.audience === 'string' ? [s.audience] : [...s.audience])));
  const algorithms = unique(settings.map((s) => s.signingAlgorithm ?? DEFAULT_SIGNING_ALGORITHM));
  const durations = settings.map((s) => s.durationSeconds ?? DEFAULT_DURATION_SECONDS);
  const conditions: Record<string, Record<string, unknown>> = {
    'ForAllValues:StringEquals': { 'sts:IdentityTokenAudience': audiences },
    // ForAllValues also holds for a request without the key; STS requires an audience, but say so.
    Null: { 'sts:IdentityTokenAudience': 'false' },
    StringEquals: { 'sts:SigningAlgorithm': algorithms },
  };
  if (!durations.some((d) => Token.isUnresolved(d))) {
    conditions.NumericLessThanEquals = { 'sts:DurationSeconds': Math.max(...durations) };
  }
  const grant = iam.Grant.addToPrincipal({
    grantee,
    actions: ['sts:GetWebIdentityToken'],
    resourceArns: ['*'],
    conditions,
  });
  const principal = grantee.grantPrincipal;
  if (principal instanceof iam.Role) {
    Validations.of(principal).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason:
        'sts:GetWebIdentityToken supports no resource ARN; the statement is limited by sts:IdentityTokenAudience, ' +
        'sts:SigningAlgorithm and sts:DurationSeconds to what the aws_web_identity clients ask for.',
    });
  }
  return grant;
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}
