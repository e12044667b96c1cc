import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { trustingFetch } from '../../../../lambda/broker/adapters/mutual-tls-fetch.ts';
import { trustedCaFrom } from '../../../../lambda/broker/handler/trusted-ca-settings.ts';
import { ENV } from '../../../../lambda/shared/contract.ts';
import { TestPki } from '../../../support/test-pki.ts';

describe('Function: trustedCaFrom', () => {
  let dir: string;
  let ca: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'token-broker-trusted-ca-unit-'));
    ca = TestPki.create('Unit Test CA').ca.certificate;
  });

  const fileWith = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it("is Node's roots (undefined) when the variable is unset or empty", () => {
    expect(trustedCaFrom({})).toBeUndefined();
    expect(trustedCaFrom({ [ENV.trustedCaFile]: '' })).toBeUndefined();
  });

  it("is Node's roots plus the file's certificates, without the text around them", () => {
    // Prepare
    const file = fileWith('bundle.pem', `# Issuer: Unit Test CA\n${ca}`);

    // Act
    const trusted = trustedCaFrom({ [ENV.trustedCaFile]: file });

    // Assess
    expect(trusted).toEqual([...rootCertificates, ca.trim()]);
  });

  it.each([
    ['cannot be read', () => join(dir, 'missing.pem'), /names .*missing\.pem, which cannot be read \(ENOENT\)/],
    ['holds no certificate', () => fileWith('empty.pem', 'nothing here\n'), /which holds no loadable PEM certificate/],
    [
      'holds a damaged certificate',
      () => fileWith('damaged.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
      /which holds no loadable PEM certificate/,
    ],
  ])('fails the cold start naming the variable when the file %s', (_, file, problem) => {
    // Act
    const reading = () => trustedCaFrom({ [ENV.trustedCaFile]: file() });

    // Assess
    expect(reading).toThrow(`Invalid broker configuration: ${ENV.trustedCaFile} names`);
    expect(reading).toThrow(problem);
  });
});

describe('Function: trustingFetch', () => {
  it('hands requests that are not https: (local runs) to the plain fetch, untouched', async () => {
    // Prepare
    const seen: string[] = [];
    const plain = (async (input: string | URL | Request) => {
      seen.push(String(input));
      return new Response('plain');
    }) as typeof fetch;

    // Act
    const response = await trustingFetch(rootCertificates, plain)('http://127.0.0.1:5001/master/token', {
      method: 'POST',
    });

    // Assess
    expect(await response.text()).toBe('plain');
    expect(seen).toEqual(['http://127.0.0.1:5001/master/token']);
  });
});
