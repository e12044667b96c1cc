import { describe, expect, it } from 'vitest';
import { loopbackHosts, refusalOfWebPageRequest } from '../../../lambda/local/dns-rebinding-guard.ts';

describe('Function: loopbackHosts', () => {
  it('names the address and localhost with the port', () => {
    // Act
    const hosts = loopbackHosts('127.0.0.1', 3000);

    // Assess
    expect(hosts).toEqual(['127.0.0.1:3000', 'localhost:3000']);
  });

  it('puts an IPv6 address in brackets', () => {
    // Act
    const hosts = loopbackHosts('::1', 3000);

    // Assess
    expect(hosts).toEqual(['[::1]:3000', 'localhost:3000']);
  });

  it('also accepts the names without the port on port 80, where clients leave it out', () => {
    // Act
    const hosts = loopbackHosts('127.0.0.1', 80);

    // Assess
    expect(hosts).toEqual(['127.0.0.1:80', '127.0.0.1', 'localhost:80', 'localhost']);
  });
});

describe('Function: refusalOfWebPageRequest', () => {
  const hosts = loopbackHosts('127.0.0.1', 3000);

  it('lets a request from curl or the caller library through', () => {
    // Act
    const refusal = refusalOfWebPageRequest({ host: '127.0.0.1:3000', 'user-agent': 'curl/8.5.0' }, hosts);

    // Assess
    expect(refusal).toBeUndefined();
  });

  it('refuses a rebound host name with 421, naming the hosts it serves and not the one received', () => {
    // Act
    const refusal = refusalOfWebPageRequest({ host: 'rebind-7f3e.attacker.example:3000' }, hosts);

    // Assess
    expect(refusal).toEqual({
      statusCode: 421,
      headers: { 'Content-Type': 'text/plain; charset=utf-8' },
      body: expect.stringMatching(/^Refused: the Host must be 127\.0\.0\.1:3000 or localhost:3000/),
    });
    expect(refusal?.body).not.toContain('rebind-7f3e');
  });

  it('refuses a request without a Host with 421', () => {
    // Act
    const refusal = refusalOfWebPageRequest({}, hosts);

    // Assess
    expect(refusal?.statusCode).toBe(421);
  });

  it('refuses a request with an Origin with 403, even with a Host it serves', () => {
    // Act
    const refusal = refusalOfWebPageRequest({ host: 'localhost:3000', origin: 'http://localhost:3000' }, hosts);

    // Assess
    expect(refusal).toMatchObject({ statusCode: 403, body: expect.stringContaining('Origin header') });
  });
});
