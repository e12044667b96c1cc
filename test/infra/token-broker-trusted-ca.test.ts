import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Token } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildExampleApp } from '../../bin/example-app.ts';
import { ENV } from '../../lambda/shared/contract.ts';
import { TokenBroker } from '../../lib/token-broker.ts';
import { parseTrustedCaCertificates, TRUSTED_CA_FILE, TrustedCaLayer } from '../../lib/trusted-ca.ts';
import { selfSignedClient, TestPki } from '../support/test-pki.ts';
import { importEndpoint, TEST_CONTEXT, TWO_CLIENTS } from './synth.ts';

interface Synthesized {
  readonly template: Template;
  /** The synthesized app's directory, where assets are staged as `asset.<hash>`. */
  readonly outdir: string;
}

function synth(trustedCaCertificates?: string): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'token-broker-ca-'));
  const app = new App({ outdir, context: TEST_CONTEXT });
  const stack = new Stack(app, 'Test', { env: { account: '123456789012', region: 'eu-west-1' } });
  new TokenBroker(stack, 'Broker', {
    config: TWO_CLIENTS,
    vpcEndpoints: [importEndpoint(stack)],
    ...(trustedCaCertificates === undefined ? {} : { trustedCaCertificates }),
  });
  return { template: Template.fromStack(stack), outdir };
}

/** Where the layer's staged asset holds `path` (relative to `/opt`). */
function layerPath({ template, outdir }: Synthesized, path: string): string {
  const [layer] = Object.values(template.findResources('AWS::Lambda::LayerVersion'));
  if (!layer) throw new Error('no layer in the template');
  const key = (layer.Properties as { Content: { S3Key: string } }).Content.S3Key;
  return join(outdir, `asset.${key.replace(/\.zip$/, '')}`, path);
}

/** The file a layer's asset holds at `path` (relative to `/opt`). */
function layerFile(synthesized: Synthesized, path: string): string {
  return readFileSync(layerPath(synthesized, path), 'utf8');
}

describe('Construct: TokenBroker with trustedCaCertificates', () => {
  let pki: TestPki;
  let other: TestPki;

  beforeAll(() => {
    pki = TestPki.create('Private Keycloak CA');
    other = TestPki.create('Second Private CA');
  });

  it('deploys the certificates in a layer for the function architecture, and names the file in TOKEN_BROKER_TRUSTED_CA_FILE', () => {
    // Act
    const synthesized = synth(pki.ca.certificate);

    // Assess
    const { template } = synthesized;
    template.resourceCountIs('AWS::Lambda::LayerVersion', 1);
    template.hasResourceProperties('AWS::Lambda::LayerVersion', { CompatibleArchitectures: ['arm64'] });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Layers: [{ Ref: Match.stringLikeRegexp('TrustedCaLayer') }],
      Environment: { Variables: Match.objectLike({ [ENV.trustedCaFile]: TRUSTED_CA_FILE }) },
    });
    expect(layerFile(synthesized, TRUSTED_CA_FILE.replace('/opt/', ''))).toBe(pki.ca.certificate);
    // World-readable whatever the umask: Lambda runs the function as another user than the files' owner.
    expect(statSync(layerPath(synthesized, TRUSTED_CA_FILE.replace('/opt/', ''))).mode & 0o777).toBe(0o644);
  });

  it('keeps every certificate of a bundle and leaves out the text between them', () => {
    // Prepare
    const bundle = `# Issuer: Private Keycloak CA\n${pki.ca.certificate}\n# Issuer: Second\n${other.ca.certificate}`;

    // Act
    const synthesized = synth(bundle);

    // Assess
    const file = layerFile(synthesized, TRUSTED_CA_FILE.replace('/opt/', ''));
    expect(file).toBe(`${pki.ca.certificate.trim()}\n${other.ca.certificate.trim()}\n`);
    expect(file).not.toContain('# Issuer');
  });

  it('trusts a self-signed certificate, which anchors its own chain', () => {
    // Act
    const { template } = synth(selfSignedClient('keycloak.internal').certificate);

    // Assess
    template.resourceCountIs('AWS::Lambda::LayerVersion', 1);
  });

  it('adds no layer and no variable without the prop', () => {
    // Act
    const { template } = synth();

    // Assess
    template.resourceCountIs('AWS::Lambda::LayerVersion', 0);
    const variables = Object.values(template.findResources('AWS::Lambda::Function')).map(
      (f) => (f.Properties as { Environment?: { Variables?: Record<string, unknown> } }).Environment?.Variables ?? {},
    );
    expect(variables.some((v) => ENV.trustedCaFile in v)).toBe(false);
  });

  it('refuses a private key in the text, naming its block without quoting it', () => {
    // Prepare
    const { privateKey } = pki.server();
    const keyBody = privateKey.split('\n')[1] as string;

    // Act
    const synthesis = () => synth(`${pki.ca.certificate}${privateKey}`);

    // Assess
    expect(synthesis).toThrow(/Invalid props of Test\/Broker: trustedCaCertificates: block 2 of 2 is a private key/);
    try {
      synthesis();
    } catch (error) {
      expect(JSON.stringify({ message: (error as Error).message, stack: (error as Error).stack })).not.toContain(
        keyBody,
      );
    }
  });

  it.each([
    ['no PEM block', 'not a certificate', /holds no PEM certificate/],
    [
      'a certificate request',
      '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n',
      /block 1 of 1 is a CERTIFICATE REQUEST, not a CERTIFICATE/,
    ],
    [
      'a damaged certificate',
      '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
      /block 1 of 1 is not a valid X\.509 certificate/,
    ],
  ])('refuses %s with a message that names the problem', (_, text, message) => {
    // Act
    const synthesis = () => synth(text);

    // Assess
    expect(synthesis).toThrow(message);
  });

  it("refuses a server's own certificate, which is not a CA", () => {
    // Act
    const synthesis = () => synth(pki.server().certificate);

    // Assess
    expect(synthesis).toThrow(/block 1 of 1 \(.*CN=127\.0\.0\.1.*\) is not a CA certificate/);
  });

  it('refuses a token, which cannot be checked or staged at synth', () => {
    // Act
    const synthesis = () => synth(Token.asString({ Ref: 'CaParameter' }));

    // Assess
    expect(synthesis).toThrow(/trustedCaCertificates must be known at synth/);
  });

  it('warns about a certificate outside its validity period', () => {
    // Prepare
    const stack = new Stack(new App({ context: TEST_CONTEXT }), 'Test');
    const inThreeDays = Date.now() + 3 * 24 * 3600 * 1000;

    // Act
    new TrustedCaLayer(stack, 'Ca', {
      certificates: parseTrustedCaCertificates(pki.ca.certificate),
      architecture: lambda.Architecture.ARM_64,
      now: inThreeDays,
    });

    // Assess
    Annotations.fromStack(stack).hasWarning(
      '/Test/Ca',
      Match.stringLikeRegexp('CN=Private Keycloak CA is valid only from .* to .*: TLS connections .* fail'),
    );
  });

  it('is read by the example app from the file named by context trustedCaFile', () => {
    // Prepare
    const file = join(mkdtempSync(join(tmpdir(), 'token-broker-ca-file-')), 'ca.pem');
    writeFileSync(file, pki.ca.certificate);
    const app = new App({
      outdir: mkdtempSync(join(tmpdir(), 'token-broker-app-')),
      context: { ...TEST_CONTEXT, trustedCaFile: file },
    });

    // Act
    const stack = buildExampleApp(app);

    // Assess
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.trustedCaFile]: TRUSTED_CA_FILE }) },
    });
    const missing = new App({ context: { ...TEST_CONTEXT, trustedCaFile: `${file}.missing` } });
    expect(() => buildExampleApp(missing)).toThrow(/Context trustedCaFile: cannot read .*ca\.pem\.missing/);
  });
});
