import { GetWebIdentityTokenCommand, type STSClient } from '@aws-sdk/client-sts';
import type { WebIdentitySettings } from '../core/config.ts';
import { BrokerError } from '../core/errors.ts';
import type { WebIdentityToken, WebIdentityTokenIssuer } from '../core/web-identity-token-issuer.ts';
import { awsErrorName, isAwsServiceUnavailable } from './aws-service-unavailable.ts';

/** What an operator does about `OutboundWebIdentityFederationDisabledException`, once per account. */
export const ENABLE_OUTBOUND_FEDERATION =
  'enable it once for the account: IAM console, Account settings, Outbound identity federation, ' +
  'or `aws iam enable-outbound-web-identity-federation`';

/**
 * {@link WebIdentityTokenIssuer} over AWS STS `GetWebIdentityToken` (IAM outbound identity
 * federation): a JWT signed by STS for the broker's own role, with the client's audience,
 * algorithm and lifetime. The SDK client is injected (tests mock it: no local STS implements the
 * call). Failures: the account's federation switched off is `upstream_rejected` saying how to
 * switch it on; STS throttled, failing or out of reach is `secret_store_unavailable` (503, with
 * Retry-After), as for Secrets Manager; anything else (access denied...) is `internal_error`.
 */
export class StsWebIdentityTokenIssuer implements WebIdentityTokenIssuer {
  readonly #client: () => STSClient;

  /** A factory defers creating the SDK client until a token is needed: most brokers never need one. */
  constructor(client: STSClient | (() => STSClient)) {
    this.#client = typeof client === 'function' ? client : () => client;
  }

  async issue(clientName: string, settings: WebIdentitySettings): Promise<WebIdentityToken> {
    let out: { WebIdentityToken?: string | undefined; Expiration?: Date | undefined };
    try {
      out = await this.#client().send(
        new GetWebIdentityTokenCommand({
          Audience: [...settings.audience],
          SigningAlgorithm: settings.signingAlgorithm,
          DurationSeconds: settings.durationSeconds,
        }),
      );
    } catch (error) {
      throw stsFailure(clientName, error);
    }
    if (!out.WebIdentityToken) {
      throw new BrokerError(
        'internal_error',
        `AWS STS answered GetWebIdentityToken for client ${clientName} without a token`,
      );
    }
    const expiresAt = out.Expiration?.getTime();
    return expiresAt === undefined || Number.isNaN(expiresAt)
      ? { value: out.WebIdentityToken }
      : { value: out.WebIdentityToken, expiresAt };
  }
}

function stsFailure(clientName: string, error: unknown): BrokerError {
  const name = awsErrorName(error);
  if (name === 'OutboundWebIdentityFederationDisabledException') {
    return new BrokerError(
      'upstream_rejected',
      `AWS STS issues no web identity token for client ${clientName}: outbound identity federation is disabled ` +
        `in the broker's AWS account; ${ENABLE_OUTBOUND_FEDERATION}`,
      // Not the authorization server's refusal, but one that repeats until an operator acts: no
      // re-fetch, and the failure is remembered for its cool-down like a refused request.
      { rejection: 'request_rejected', cause: error },
    );
  }
  if (isAwsServiceUnavailable(error)) {
    return new BrokerError('secret_store_unavailable', `AWS STS is unavailable (${name})`, {
      cause: error,
      retryAfterSeconds: 1,
    });
  }
  return new BrokerError('internal_error', `AWS STS refused the web identity token of client ${clientName} (${name})`, {
    cause: error,
  });
}
