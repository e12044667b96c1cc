/**
 * Error names of an AWS service that is there but not answering now (throttled, failing, slow):
 * Secrets Manager's and STS's spellings, and the SDK's own timeouts.
 */
const TRANSIENT_ERRORS =
  /^(?:Throttling(?:Exception)?|Internal(?:ServiceError|Failure)|ServiceUnavailable(?:Exception)?|TimeoutError|RequestTimeout)$/;

/** Node's codes for a service that cannot be reached: refused, reset, no route, no DNS answer, timed out. */
const NETWORK_ERRORS = /^E(?:CONN(?:REFUSED|RESET|ABORTED)|PIPE|TIMEDOUT|(?:HOST|NET)UNREACH|NOTFOUND|AI_AGAIN)$/;

/** Throttled, failing or out of reach: worth trying again soon, unlike a missing resource or a denied call. */
export function isAwsServiceUnavailable(error: unknown): boolean {
  const { name, code, $retryable, $metadata } = error as {
    name?: string;
    code?: unknown;
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: number };
  };
  const status = $metadata?.httpStatusCode ?? 0;
  return (
    (name !== undefined && TRANSIENT_ERRORS.test(name)) ||
    (typeof code === 'string' && NETWORK_ERRORS.test(code)) ||
    Boolean($retryable) ||
    status === 429 ||
    status >= 500
  );
}

/** The error's name and, for a network error, its code (`TypeError ECONNREFUSED`): never its message. */
export function awsErrorName(error: unknown): string {
  const { name, code } = error as { name?: string; code?: unknown };
  const what = name ?? 'Error';
  return typeof code === 'string' && code !== '' ? `${what} ${code}` : what;
}
