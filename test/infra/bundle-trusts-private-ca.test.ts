import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { App, Stack } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthorizationServer, startAuthorizationServer } from '../../lambda/local/authorization-server.ts';
import { ENV } from '../../lambda/shared/contract.ts';
import { TokenBroker } from '../../lib/token-broker.ts';
import { type MotoServer, motoUnavailableReason, startMotoServer } from '../integration/support/moto-server.ts';
import { TestPki } from '../support/test-pki.ts';
import { CDK_JSON_CONTEXT, importEndpoint } from './synth.ts';

const run = promisify(execFile);
const skipReason = motoUnavailableReason();

interface FunctionResource {
  readonly Type: string;
  readonly Properties: {
    readonly Handler?: string;
    readonly Code?: { S3Key?: string };
    readonly Content?: { S3Key?: string };
    readonly Environment?: { Variables?: Record<string, string> };
  };
}

/**
 * The deployed artifacts of a broker with `trustedCaCertificates`, run as Lambda runs them: the
 * function's bundle imported by a fresh Node.js whose environment is the template's, with the
 * layer's asset where Lambda extracts layers (`/opt`), against an authorization server whose
 * HTTPS certificate a private CA issued.
 */
describe.skipIf(skipReason !== undefined)(
  `Bundle: the broker function trusts the private CA its layer holds, for its token endpoints only${skipReason ? ` [skipped: ${skipReason}]` : ''}`,
  () => {
    let server: AuthorizationServer;
    let moto: MotoServer;
    let functionDir: string;
    let layerDir: string;
    let variables: Record<string, string>;

    const invoke = async (environment: Record<string, string>) => {
      const { stdout } = await run(process.execPath, [join(functionDir, 'invoke.mjs')], {
        env: {
          PATH: process.env.PATH ?? '',
          PROBE_URL: server.mtlsTokenEndpoint ?? '',
          ...moto.environment(),
          ...environment,
        },
        cwd: functionDir,
      });
      return JSON.parse(stdout.split('RESULT ')[1] as string) as Record<string, unknown>;
    };

    beforeAll(async () => {
      const pki = TestPki.create('Private Authorization Server CA');
      const tls = pki.server();
      server = await startAuthorizationServer({
        mutualTls: {
          certificate: tls.certificate,
          privateKey: tls.privateKey,
          clientCa: pki.ca.certificate,
          clients: [],
        },
      });
      moto = await startMotoServer();
      const secret = await moto
        .secretsManager()
        .send(new CreateSecretCommand({ Name: 'shop/m2m', SecretString: 'password' }));

      const outdir = mkdtempSync(join(tmpdir(), 'token-broker-ca-run-'));
      const app = new App({ outdir, context: { ...CDK_JSON_CONTEXT } });
      const stack = new Stack(app, 'TrustsPrivateCa');
      const config = {
        clients: [
          {
            name: 'shop',
            // The HTTPS listener: a certificate for 127.0.0.1 from the private CA.
            tokenEndpoint: server.mtlsTokenEndpoint as string,
            clientId: 'm2m',
            clientSecret: { secretId: secret.ARN as string },
            scopes: ['read'],
          },
        ],
      };
      new TokenBroker(stack, 'Broker', {
        config,
        vpcEndpoints: [importEndpoint(stack)],
        sharedCache: false,
        trustedCaCertificates: pki.ca.certificate,
      });
      const resources = Object.values(
        (app.synth().getStackByName('TrustsPrivateCa').template as { Resources: Record<string, FunctionResource> })
          .Resources,
      );
      const assetDir = (key: string | undefined) => join(outdir, `asset.${key?.replace(/\.zip$/, '')}`);
      const broker = resources.find(
        (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.BROKER_CONFIG,
      );
      const layer = resources.find((r) => r.Type === 'AWS::Lambda::LayerVersion');
      functionDir = assetDir(broker?.Properties.Code?.S3Key);
      layerDir = assetDir(layer?.Properties.Content?.S3Key);
      variables = broker?.Properties.Environment?.Variables ?? {};
      writeFileSync(
        join(functionDir, 'invoke.mjs'),
        [
          "import { handler } from './index.mjs';",
          'const context = { functionName: "token-broker", awsRequestId: "r-1", getRemainingTimeInMillis: () => 25000 };',
          'const result = await handler({ client: "shop", scopes: ["read"] }, context);',
          // The same server through the global fetch: the private CA must not be trusted there.
          'const globalTrust = await fetch(process.env.PROBE_URL, { method: "POST" }).then(() => "trusted", (e) => e.cause?.code);',
          'console.log("RESULT " + JSON.stringify({ ...result, globalTrust }));',
        ].join('\n'),
      );
    });
    afterAll(async () => {
      await server?.stop();
      await moto?.stop();
    });

    it('gets a token over TLS from a server whose certificate the private CA issued', async () => {
      // Prepare: the variable as the template sets it, its /opt path where this test staged the layer.
      const trustedCaFile = (variables[ENV.trustedCaFile] as string).replace(/^\/opt\//, `${layerDir}/`);

      // Act
      const result = await invoke({ ...variables, [ENV.trustedCaFile]: trustedCaFile });

      // Assess
      expect(result).toMatchObject({ statusCode: 200, token_type: 'Bearer', scope: 'read' });
      expect(server.tokenRequestCount()).toBe(1);
      // The token endpoint's trust only: the function's other TLS connections keep Node's roots.
      expect(result.globalTrust).toBe('SELF_SIGNED_CERT_IN_CHAIN');
    });

    it('control: without the layer file, the same function cannot verify the server and gets no token', async () => {
      // Prepare
      const { [ENV.trustedCaFile]: _, ...withoutCa } = variables;
      const before = server.tokenRequestCount();

      // Act
      const result = await invoke(withoutCa);

      // Assess
      expect(result).toMatchObject({
        statusCode: 503,
        error: 'upstream_unavailable',
        error_description: expect.stringMatching(
          /^The authorization server of client shop presented an untrusted TLS certificate \(SELF_SIGNED_CERT_IN_CHAIN\)/,
        ),
      });
      expect(result).not.toHaveProperty('access_token');
      expect(server.tokenRequestCount() - before).toBe(0);
    });
  },
);
