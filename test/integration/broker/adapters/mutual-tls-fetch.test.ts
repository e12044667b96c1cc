import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseClientCertificate } from '../../../../lambda/broker/adapters/client-certificate.ts';
import { ClientCertificateRefusedError, mutualTlsFetch } from '../../../../lambda/broker/adapters/mutual-tls-fetch.ts';
import {
  clientCertificateSecret,
  type KeyAndCertificate,
  selfSignedClient,
  TestPki,
} from '../../../support/test-pki.ts';
import { type StrictTlsServer, startStrictTlsServer } from '../../support/openssl-server.ts';

const pki = TestPki.create();
const serverPair = pki.server();
const issued = pki.client('/O=M2M Token Broker Tests/CN=shop-broker');

const fetchWith = (pair: KeyAndCertificate, origin: string) =>
  mutualTlsFetch(parseClientCertificate(clientCertificateSecret(pair), 'shop', 'tls_client_auth'), origin, {
    ca: pki.ca.certificate,
  });

type Failure = Error & { code?: string; cause?: { code?: string } };

async function failureOf(outcome: Promise<unknown>): Promise<Failure> {
  return outcome.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (error: unknown) => error as Failure,
  );
}

describe('Function: mutualTlsFetch', () => {
  describe('against a Node HTTPS server that asks for a certificate', () => {
    let server: Server;
    let origin: string;
    let handler: (req: IncomingMessage, res: ServerResponse) => void;
    let connections = 0;

    beforeAll(async () => {
      server = createServer(
        {
          cert: serverPair.certificate,
          key: serverPair.privateKey,
          ca: pki.ca.certificate,
          requestCert: true,
          rejectUnauthorized: false,
        },
        (req, res) => handler(req, res),
      );
      server.on('secureConnection', () => connections++);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterEach(() => server.closeAllConnections());
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('presents the certificate and sends the form, returning status, headers and body', async () => {
      // Prepare
      handler = (req, res) => {
        let body = '';
        req.on('data', (chunk) => (body += chunk));
        req.on('end', () => {
          const peer = (req.socket as TLSSocket).getPeerX509Certificate();
          res.writeHead(201, { 'content-type': 'application/json', 'x-seen': 'yes' });
          res.end(
            JSON.stringify({ subject: peer?.subject, body, method: req.method, type: req.headers['content-type'] }),
          );
        });
      };

      // Act
      const response = await fetchWith(issued, origin)(`${origin}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'shop' }),
        redirect: 'manual',
      });

      // Assess
      expect(response.status).toBe(201);
      expect(response.headers.get('x-seen')).toBe('yes');
      expect(await response.json()).toEqual({
        subject: 'O=M2M Token Broker Tests\nCN=shop-broker',
        body: 'grant_type=client_credentials&client_id=shop',
        method: 'POST',
        type: 'application/x-www-form-urlencoded',
      });
    });

    it('refuses another origin without connecting to it', async () => {
      // Prepare
      const before = connections;
      const elsewhere = fetchWith(issued, 'https://as.example.test');

      // Act
      const error = await failureOf(elsewhere(`${origin}/token`, { method: 'POST' }));

      // Assess
      expect(error.message).toBe(`This fetch is for https://as.example.test only, not for ${origin}`);
      expect(connections).toBe(before);
    });

    it('fails like fetch when the connection breaks while the body is read: a TypeError', async () => {
      // Prepare
      handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"access_token":"');
        setTimeout(() => res.socket?.destroy(), 20);
      };
      const response = await fetchWith(issued, origin)(`${origin}/token`, { method: 'POST' });

      // Act
      const error = await failureOf(response.text());

      // Assess
      expect(error.name).toBe('TypeError');
      expect(error.code).toBeUndefined();
    });

    it("rejects with the signal's reason when it aborts, before or after the answer started", async () => {
      // Prepare
      handler = (_req, res) => {
        res.writeHead(200);
        res.write('{');
      };
      const fetch = fetchWith(issued, origin);

      // Act
      const beforeAnswer = await failureOf(
        fetch(`${origin}/token`, { method: 'POST', signal: AbortSignal.abort(new Error('gave up')) }),
      );
      const response = await fetch(`${origin}/token`, { method: 'POST', signal: AbortSignal.timeout(100) });
      const whileReading = await failureOf(response.text());

      // Assess
      expect(beforeAnswer.message).toBe('gave up');
      expect(whileReading.name).toBe('TimeoutError');
    });
  });

  it('fails like fetch when nothing listens: a TypeError with the network code as cause', async () => {
    // Prepare
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const origin = `https://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    // Act
    const error = await failureOf(fetchWith(issued, origin)(`${origin}/token`, { method: 'POST' }));

    // Assess
    expect(error.name).toBe('TypeError');
    expect(error.cause?.code).toBe('ECONNREFUSED');
  });

  describe.each(['tls1_2', 'tls1_3'] as const)(
    'against a server that refuses certificates with a TLS alert (%s)',
    (tlsVersion) => {
      let strict: StrictTlsServer;

      beforeAll(async () => {
        strict = await startStrictTlsServer(serverPair, pki.ca.certificate, { tlsVersion });
      });
      afterAll(() => strict.stop());

      it('lets a certificate of its CA through', async () => {
        // Act
        const response = await fetchWith(issued, strict.origin)(`${strict.origin}/`, {});

        // Assess
        expect(response.status).toBe(200);
        await response.text();
      });

      it.each([
        ['a self-signed certificate', selfSignedClient('shop-broker')],
        [
          'a certificate of another CA',
          TestPki.create('Another CA').client('/O=M2M Token Broker Tests/CN=shop-broker'),
        ],
      ])('refuses %s: a ClientCertificateRefusedError naming the alert', async (_case, pair) => {
        // Act
        const error = await failureOf(fetchWith(pair, strict.origin)(`${strict.origin}/`, {}));

        // Assess
        expect(error).toBeInstanceOf(ClientCertificateRefusedError);
        expect((error as ClientCertificateRefusedError).alert).toBe('unknown_ca');
      });
    },
  );
});
