/** What one attempt asks the broker for. `scopes` undefined: the client's default scopes. */
export interface TokenRequest {
  readonly client: string;
  readonly scopes?: readonly string[];
  /**
   * The token must have at least this many seconds left when it is returned (some APIs refuse
   * tokens about to expire). The broker gets a new one if its current token is too old.
   * @default none: any token the broker would serve
   */
  readonly minTtlSeconds?: number;
}

/**
 * The broker's answer as the transport received it: status and decoded JSON body
 * (`undefined` when the body was not JSON). Interpreting it is `readBrokerResponse`'s job.
 */
export interface BrokerResponse {
  readonly status: number;
  readonly body: unknown;
  /** `Retry-After`, in milliseconds. */
  readonly retryAfterMs?: number;
}

/**
 * How one attempt reaches the broker: a SigV4-signed HTTPS call to the private API
 * ({@link HttpTransport}) or a direct Lambda invocation (`LambdaInvokeTransport`).
 *
 * `send` throws a `TokenBrokerError` for failures below the broker (network, IAM, throttling) and
 * must stop when `signal` aborts.
 */
export interface TokenTransport {
  send(request: TokenRequest, signal: AbortSignal): Promise<BrokerResponse>;
}
