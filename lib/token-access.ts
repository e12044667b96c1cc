import { Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct, type IConstruct } from 'constructs';

/**
 * What `aws:PrincipalArn` is for a request signed by a role or a user: the role's ARN (with its
 * path, not the session's `assumed-role` ARN) or the user's.
 */
const PRINCIPAL_ARN = /^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/.+$/;

/**
 * The ARN a resource policy can name in an `aws:PrincipalArn` condition for `grantee`: a role's
 * or a user's, known at synth time or resolved by CloudFormation in `scope`'s stack.
 *
 * @throws naming `what` when the grantee has no such ARN (a service, an account, a group, several
 * principals), when the ARN is not a role's or a user's, or when it belongs to another stack
 * (the two stacks would depend on each other)
 */
export function principalArnOf(grantee: iam.IGrantable, scope: IConstruct, what: string): string {
  const principal = grantee.grantPrincipal;
  if (principal instanceof iam.AccountPrincipal) throw accountError(what);
  if (principal instanceof iam.Group) throw unnameable(what);
  const arns = awsPrincipals(principal, what);
  const [arn] = arns;
  if (arn === undefined || arns.length !== 1) {
    throw new Error(
      `${what}: the grantee has no single IAM principal ARN (it is a service, several principals or none), so the ` +
        "API's resource policy cannot admit it by aws:PrincipalArn. Grant a role or a user, or set strictTokenAccess: false",
    );
  }
  if (Token.isUnresolved(arn)) {
    if (arn.endsWith(':root')) throw accountError(what);
    const owner = Construct.isConstruct(principal) ? Stack.of(principal) : undefined;
    if (owner && owner !== Stack.of(scope)) {
      throw new Error(
        `${what}: ${(principal as unknown as IConstruct).node.path} is in stack ${owner.stackName} and the broker in ${Stack.of(scope).stackName}; ` +
          "naming its ARN in the API's resource policy would make each stack depend on the other. Give the role a " +
          'fixed name and grant iam.Role.fromRoleArn(brokerStack, id, arn, { mutable: false }) in the broker stack ' +
          '(and execute-api:Invoke on the method ARN in its own stack)',
      );
    }
    return arn;
  }
  if (arn.endsWith(':root')) throw accountError(what);
  if (!PRINCIPAL_ARN.test(arn)) {
    throw new Error(
      `${what}: "${arn}" is not the ARN of an IAM role or user (arn:aws:iam::ACCOUNT:role/NAME); for a role, ` +
        "name the role, not a session's assumed-role ARN",
    );
  }
  const account = Stack.of(scope).account;
  const arnAccount = arn.split(':')[4];
  if (!Token.isUnresolved(account) && arnAccount !== account) {
    throw new Error(
      `${what}: "${arn}" is in account ${arnAccount}, the broker in ${account}. Another account's principal would ` +
        "need an Allow in the API's resource policy, which only denies: it would get 403. Grant roles of the " +
        "broker's account (cross-account callers are not supported)",
    );
  }
  return arn;
}

function awsPrincipals(principal: iam.IPrincipal, what: string): string[] {
  let fragment: iam.PrincipalPolicyFragment;
  try {
    fragment = principal.policyFragment;
  } catch (error) {
    throw unnameable(what, error);
  }
  if (Object.keys(fragment.conditions).length > 0) {
    throw new Error(
      `${what}: the grantee carries conditions, which an aws:PrincipalArn exemption would drop: grant the role itself`,
    );
  }
  const json = fragment.principalJson;
  const others = Object.keys(json).filter((key) => key !== 'AWS');
  return others.length > 0 ? [] : (json.AWS ?? []);
}

function unnameable(what: string, cause?: unknown): Error {
  return new Error(
    `${what}: the grantee cannot be named in a resource policy (an IAM group, or a resource imported without its ` +
      'role): grant the roles or users themselves',
    cause === undefined ? undefined : { cause },
  );
}

function accountError(what: string): Error {
  return new Error(
    `${what}: the grantee is a whole account, not a principal; aws:PrincipalArn names roles and users. Grant the ` +
      'roles that need tokens, or set strictTokenAccess: false',
  );
}
