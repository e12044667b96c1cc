import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { ENV } from '../shared/contract.ts';
import { parseRetryAfter } from '../shared/retry.ts';
import { parseBrokerUrl, regionOfApiHost, tokenUrl } from './broker-url.ts';
import { type AwsCredentials, type AwsCredentialsProvider, defaultCredentials } from './credentials.ts';
import { TokenBrokerConfigError, TokenBrokerError } from './errors.ts';
import type { BrokerResponse, TokenRequest, TokenTransport } from './token-transport.ts';

/** The subset of `fetch` the transport uses; inject one to observe or alter requests in tests. */
export type Fetch = (url: string, init: RequestInit) => Promise<Response>;

export interface HttpTransportOptions {
  /**
   * The broker API's stage invoke URL, e.g. `https://abc123.execute-api.eu-west-1.amazonaws.com/prod`.
   * @default process.env.TOKEN_BROKER_URL
   */
  readonly url?: string;
  /**
   * Region to sign for.
   * @default the region in an `execute-api` host name, else process.env.AWS_REGION
   */
  readonly region?: string;
  /**
   * Credentials to sign with.
   * @default the AWS SDK's default provider chain (in Lambda: the function role)
   */
  readonly credentials?: AwsCredentials | AwsCredentialsProvider;
  /** @default globalThis.fetch */
  readonly fetch?: Fetch;
  /** Milliseconds since the epoch; the signing time. @default Date.now */
  readonly clock?: () => number;
}

/**
 * Calls the broker's private REST API with a request signed with AWS Signature Version 4 for
 * the `execute-api` service, the way API Gateway's IAM authorization expects
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html).
 */
export class HttpTransport implements TokenTransport {
  readonly #base: URL;
  readonly #signer: SignatureV4;
  readonly #fetch: Fetch;
  readonly #clock: () => number;

  constructor(options: HttpTransportOptions = {}) {
    const urlText = options.url ?? process.env[ENV.brokerUrl];
    if (!urlText) throw new TokenBrokerConfigError('url', `is required (or set ${ENV.brokerUrl})`);
    this.#base = parseBrokerUrl(urlText, options.url === undefined ? ENV.brokerUrl : 'url');
    // The host name's region is authoritative for execute-api: a caller may live in another region.
    const region = options.region ?? regionOfApiHost(this.#base.hostname) ?? process.env.AWS_REGION;
    if (!region) throw new TokenBrokerConfigError('region', 'is required (or set AWS_REGION)');
    const credentials = options.credentials ?? defaultCredentials();
    this.#signer = new SignatureV4({ service: 'execute-api', region, credentials, sha256: Sha256 });
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
    this.#clock = options.clock ?? Date.now;
  }

  async send(request: TokenRequest, signal: AbortSignal): Promise<BrokerResponse> {
    const { url, query } = tokenUrl(this.#base, request);
    const headers = await this.#sign(url, query);
    try {
      // `manual`: a redirect is outside the contract, and following one would carry the signature elsewhere.
      const response = await this.#fetch(url.href, { method: 'GET', headers, signal, redirect: 'manual' });
      const text = await response.text();
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), this.#clock());
      return {
        status: response.status,
        body: parseJson(text),
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
    } catch (error) {
      if (signal.aborted) throw error;
      throw new TokenBrokerError('network_error', `Could not reach the broker at ${url.host}`, { cause: error });
    }
  }

  /** Signed headers, without `host`: fetch sets it from the URL, to the same value that was signed. */
  async #sign(url: URL, query: Record<string, string>): Promise<Record<string, string>> {
    const unsigned = new HttpRequest({
      method: 'GET',
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query,
      headers: { host: url.host, accept: 'application/json' },
    });
    const signed = await this.#signer
      .sign(unsigned, { signingDate: new Date(this.#clock()) })
      .catch((error: unknown) => {
        // Almost always: the provider chain found no credentials. The cause names the providers tried.
        throw new TokenBrokerError('access_denied', 'Could not sign the request: no usable AWS credentials', {
          cause: error,
        });
      });
    const { host: _host, ...headers } = signed.headers;
    return headers;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
