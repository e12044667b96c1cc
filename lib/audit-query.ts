import * as logs from 'aws-cdk-lib/aws-logs';
import { type Construct, Node } from 'constructs';
import { AUDIT } from '../lambda/shared/contract.ts';

/**
 * "Which roles obtained tokens, for which client, how often and when last": a Logs Insights query
 * over the broker's audit lines (`lambda/broker/handler/audit.ts`). The role is parsed from the
 * caller's assumed-role ARN; a caller that is not a role (a user, a direct invocation) shows as is.
 */
export function auditQueryString(): logs.QueryString {
  return new logs.QueryString({
    fields: ['@timestamp', 'client', 'principal', 'channel'],
    parseStatements: ['principal /assumed-role\\/(?<role>[^\\/]+)\\//'],
    filterStatements: [`${AUDIT.marker} = "${AUDIT.kind}"`, `outcome = "${AUDIT.outcome.served}"`],
    statsStatements: ['count(*) as tokens, max(@timestamp) as lastServed by client, channel, role'],
    sort: 'client asc, tokens desc',
  });
}

/** The query, saved in CloudWatch Logs Insights for the broker's log group. */
export function auditQuery(scope: Construct, id: string, logGroup: logs.ILogGroup): logs.QueryDefinition {
  return new logs.QueryDefinition(scope, id, {
    queryDefinitionName: `${Node.of(scope).path}/roles-that-obtained-tokens`,
    queryString: auditQueryString(),
    logGroups: [logGroup],
  });
}
