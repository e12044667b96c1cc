import { describe, expect, it } from 'vitest';
import { verifySigV4 } from './sigv4-verifier.ts';

/**
 * The test verifier must itself be right before it can judge the library: it is checked against
 * the "get-vanilla" case of AWS's published SigV4 test suite.
 */
describe('Function: verifySigV4 (test support)', () => {
  const vanilla = {
    method: 'GET',
    url: '/',
    headers: {
      host: 'example.amazonaws.com',
      'x-amz-date': '20150830T123600Z',
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    },
    body: Buffer.alloc(0),
  };
  const options = {
    credentials: new Map([['AKIDEXAMPLE', { secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' }]]),
    region: 'us-east-1',
    service: 'service',
    now: new Date('2015-08-30T12:36:00Z'),
  };

  it('accepts the AWS test suite request get-vanilla', () => {
    // Act
    const verdict = verifySigV4(vanilla, options);

    // Assess
    expect(verdict).toEqual({ ok: true, accessKeyId: 'AKIDEXAMPLE', signedHeaders: ['host', 'x-amz-date'] });
  });

  it('rejects get-vanilla with a query added', () => {
    // Act
    const verdict = verifySigV4({ ...vanilla, url: '/?a=b' }, options);

    // Assess
    expect(verdict).toEqual({ ok: false, reason: 'signature does not match' });
  });

  it('rejects get-vanilla verified ten minutes later', () => {
    // Act
    const verdict = verifySigV4(vanilla, { ...options, now: new Date('2015-08-30T12:46:00Z') });

    // Assess
    expect(verdict).toEqual({ ok: false, reason: 'signature expired or from the future' });
  });
});
