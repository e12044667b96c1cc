import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type AuditLog,
  callerOfApiEvent,
  createAuditLog,
  directCaller,
} from '../../../../lambda/broker/handler/audit.ts';
import { AUDIT, SERVICE_NAME } from '../../../../lambda/shared/contract.ts';

const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
const TRACE_HEADER = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';

/** An audit log writing into an array, with a fixed clock. */
function capture(): { audit: AuditLog; lines: string[] } {
  const lines: string[] = [];
  return { audit: createAuditLog({ write: (line) => lines.push(line), now: () => NOW }), lines };
}

/** What every audit line starts with: the keys of a Powertools line, and the audit marker. */
const EVERY_LINE = {
  level: 'INFO',
  message: AUDIT.message,
  timestamp: '2026-11-28T12:00:00.000Z',
  service: SERVICE_NAME,
  [AUDIT.marker]: AUDIT.kind,
};

const SERVED = {
  outcome: AUDIT.outcome.served,
  scope: 'read',
  source: 'memory',
  expiresAt: 1_795_866_268,
  expiresIn: 3599,
} as const;

describe('Function: createAuditLog', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('writes one JSON line with the keys of a Powertools line, the caller, the client and the outcome', () => {
    // Prepare
    vi.stubEnv('_X_AMZN_TRACE_ID', TRACE_HEADER);
    const { audit, lines } = capture();
    const caller = callerOfApiEvent(
      {
        requestContext: {
          requestId: 'api-1',
          identity: {
            userArn: 'arn:aws:sts::123456789012:assumed-role/orders-fn/orders-fn',
            caller: 'AROAEXAMPLE:orders-fn',
            accountId: '123456789012',
            vpceId: 'vpce-0123',
          },
        },
      },
      'fn-1',
    );

    // Act
    audit(caller, 'shop', SERVED);

    // Assess
    expect(lines).toHaveLength(1);
    expect(lines[0]?.endsWith('\n')).toBe(true);
    expect(lines[0]?.indexOf('\n')).toBe((lines[0]?.length ?? 0) - 1);
    expect(JSON.parse(lines[0] as string)).toEqual({
      ...EVERY_LINE,
      channel: 'api',
      principal: 'arn:aws:sts::123456789012:assumed-role/orders-fn/orders-fn',
      callerId: 'AROAEXAMPLE:orders-fn',
      account: '123456789012',
      sourceVpce: 'vpce-0123',
      apiRequestId: 'api-1',
      client: 'shop',
      ...SERVED,
      function_request_id: 'fn-1',
      xray_trace_id: '1-5759e988-bd862e3fe1be46a994272793',
    });
  });

  it('leaves out what is unknown: identity of a direct call, the client of an unreadable event, no trace', () => {
    // Prepare
    vi.stubEnv('_X_AMZN_TRACE_ID', undefined);
    const { audit, lines } = capture();

    // Act
    audit(directCaller(undefined), undefined, {
      outcome: AUDIT.outcome.refused,
      status: 400,
      error: 'invalid_request',
    });

    // Assess
    expect(JSON.parse(lines[0] as string)).toEqual({
      ...EVERY_LINE,
      channel: 'direct',
      outcome: 'refused',
      status: 400,
      error: 'invalid_request',
    });
  });

  it('writes to standard output by default, looked up per line (a capture set up later sees it)', () => {
    // Prepare
    const audit = createAuditLog({ now: () => NOW });
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stdout.write);

    // Act
    audit(directCaller('fn-2'), 'shop', SERVED);

    // Assess
    expect(written).toHaveLength(1);
    expect(JSON.parse(written[0] as string)).toMatchObject({ client: 'shop', function_request_id: 'fn-2' });
  });
});

describe('Function: callerOfApiEvent', () => {
  it('takes only own, non-empty string fields, each cut to the length of the longest IAM ARN', () => {
    // Prepare
    const identity = Object.create({ userArn: 'inherited' }) as Record<string, unknown>;
    Object.assign(identity, { caller: '', accountId: 123456789012, vpceId: 'v'.repeat(5000) });

    // Act
    const caller = callerOfApiEvent({ requestContext: { identity, requestId: ['api-1'] } }, 'fn-1');

    // Assess
    expect(caller).toEqual({
      channel: 'api',
      principal: undefined,
      callerId: undefined,
      account: undefined,
      sourceVpce: 'v'.repeat(2048),
      apiRequestId: undefined,
      functionRequestId: 'fn-1',
    });
  });

  it.each([
    ['no request context', {}],
    ['a request context that is an array', { requestContext: [] }],
    ['an identity that is a string', { requestContext: { identity: 'arn:aws:iam::1:root' } }],
    ['a __proto__ key', JSON.parse('{"requestContext":{"__proto__":{"identity":{"userArn":"x"}}}}')],
  ])('names no principal for %s', (_, event) => {
    // Act
    const caller = callerOfApiEvent(event as Record<string, unknown>, undefined);

    // Assess
    expect(caller.principal).toBeUndefined();
    expect(caller.channel).toBe('api');
  });
});
