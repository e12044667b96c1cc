import type { BrokerError } from '../../../../lambda/broker/core/errors.ts';
import type { BrokerTelemetry } from '../../../../lambda/broker/core/token-broker.ts';

export type TelemetryEvent =
  | { readonly event: 'tokenFetched'; readonly client: string; readonly credentials: 'current' | 'rotated' }
  | { readonly event: 'upstreamFailed' | 'servedStale'; readonly client: string; readonly code: string }
  | { readonly event: 'sharedTierFailed'; readonly operation: string }
  | { readonly event: 'tokenTooLarge' | 'assertionReuseRefused'; readonly client: string }
  | { readonly event: 'refreshWindowTooShort'; readonly client: string; readonly refreshWindowSeconds: number };

/** Telemetry that remembers what the broker reported, for assertions. */
export function recordingTelemetry(): BrokerTelemetry & { readonly events: TelemetryEvent[] } {
  const events: TelemetryEvent[] = [];
  return {
    events,
    tokenFetched: (client, credentials) => events.push({ event: 'tokenFetched', client, credentials }),
    upstreamFailed: (client, error: BrokerError) => events.push({ event: 'upstreamFailed', client, code: error.code }),
    servedStale: (client, error: BrokerError) => events.push({ event: 'servedStale', client, code: error.code }),
    sharedTierFailed: (operation) => events.push({ event: 'sharedTierFailed', operation }),
    tokenTooLarge: (client) => events.push({ event: 'tokenTooLarge', client }),
    assertionReuseRefused: (client) => events.push({ event: 'assertionReuseRefused', client }),
    refreshWindowTooShort: (client, refreshWindowSeconds) =>
      events.push({ event: 'refreshWindowTooShort', client, refreshWindowSeconds }),
  };
}
