// One dialled HBONE connection: the HTTP/2 parameters both ends put on the wire (fact sheet §1.3),
// the TLS parameters negotiated, and dial failures by phase.
import net from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WorkloadCertificate } from '../identity/certificate.ts';
import { forgeWorkloadCertificate } from '../identity/test-certificates.ts';
import { dialHbone, openTunnel, type HboneClientConnection } from './client.ts';
import { CLIENT_ID, SERVER_ID, createTestPki, pollUntil, readAll, rejectionOf, startHboneServer, startTcpApp, type HboneFixture, type TcpApp, type TestPki } from './test-fixtures.ts';

let pki: TestPki;
let serverCert: WorkloadCertificate;
let clientCert: WorkloadCertificate;
let echoApp: TcpApp;
let f: HboneFixture;
const conns: HboneClientConnection[] = [];
beforeAll(async () => {
  pki = await createTestPki();
  serverCert = await pki.cert(SERVER_ID);
  clientCert = await pki.cert(CLIENT_ID);
  echoApp = await startTcpApp((s) => void s.pipe(s));
  f = await startHboneServer({ getCertificate: () => serverCert });
  return async () => {
    await f.close();
    await echoApp.close();
  };
});
afterEach(() => {
  for (const c of conns.splice(0)) c.session.destroy();
});

async function dial(expectedIdentities = [SERVER_ID]): Promise<HboneClientConnection> {
  const c = await dialHbone({ connectSocket: () => net.connect(f.port, f.host), certificate: clientCert, expectedIdentities, keepalive: false });
  conns.push(c);
  return c;
}

describe('dialHbone', () => {
  it('negotiates TLS 1.3, an AES-GCM suite, ALPN h2 and no SNI', async () => {
    const c = await dial();
    expect(c.socket.getProtocol()).toBe('TLSv1.3');
    expect(c.socket.getCipher().name).toMatch(/^TLS_AES_(128|256)_GCM_SHA(256|384)$/);
    expect(c.socket.alpnProtocol).toBe('h2');
    expect(c.peerIdentity).toEqual({ trustDomain: 'cluster.local', namespace: 'server-ns', serviceAccount: 'server' });
  });

  it('exchanges the HBONE HTTP/2 settings and 16 MiB connection windows', async () => {
    const c = await dial();
    const t = await openTunnel(c.session, `127.0.0.1:${echoApp.port}`); // settings are acked by now
    const remote = c.session.remoteSettings;
    expect(remote.initialWindowSize).toBe(4 * 1024 * 1024);
    expect(remote.maxFrameSize).toBe(1024 * 1024);
    expect(remote.maxConcurrentStreams).toBe(200);
    expect(remote.maxHeaderListSize).toBe(64 * 1024);
    const local = c.session.localSettings;
    expect(local.initialWindowSize).toBe(4 * 1024 * 1024);
    expect(local.maxFrameSize).toBe(1024 * 1024);
    expect(local.enablePush).toBe(false);
    expect(local.maxHeaderListSize).toBe(16 * 1024);
    // Our receive window for the connection, and the server's as it announced it to us.
    expect(c.session.state.effectiveLocalWindowSize).toBe(16 * 1024 * 1024);
    await pollUntil(() => c.session.state.remoteWindowSize === 16 * 1024 * 1024, 'the server connection window');
    const got = readAll(t.stream);
    t.stream.end('ok');
    expect((await got).toString()).toBe('ok');
  });

  it('refuses a server certificate with several URI SANs (even one expected) or none', async () => {
    const cases: [string[], string][] = [
      [[SERVER_ID, 'spiffe://cluster.local/ns/other/sa/other'], 'carries 2 URI SANs'],
      [[], 'carries no URI SAN'],
    ];
    for (const [uris, why] of cases) {
      const forged = await forgeWorkloadCertificate(pki.root, SERVER_ID, [{ type: 'dns', value: 'server.example' }, ...uris.map((value) => ({ type: 'url' as const, value }))]);
      const server = await startHboneServer({ getCertificate: () => forged, keepalive: false });
      try {
        const err = await rejectionOf(dialHbone({ connectSocket: () => net.connect(server.port, server.host), certificate: clientCert, expectedIdentities: [SERVER_ID], keepalive: false }));
        expect(err.code).toBe('HBONE_SERVER_IDENTITY');
        expect(err.message).toContain(`server certificate refused: the peer certificate ${why}`);
        expect(server.tunnels).toHaveLength(0);
      } finally {
        await server.close();
      }
    }
  });

  it('fails by phase with typed codes', async () => {
    const closed = await startTcpApp(() => undefined);
    await closed.close();
    const refused = await rejectionOf(dialHbone({ connectSocket: () => net.connect(closed.port, '127.0.0.1'), certificate: clientCert, expectedIdentities: [SERVER_ID] }));
    expect(refused.code).toBe('HBONE_CONNECT_FAILED');
    expect((await rejectionOf(dial(['spiffe://cluster.local/ns/x/sa/y']))).code).toBe('HBONE_SERVER_IDENTITY');
    const plainTcp = await startTcpApp((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const notTls = await rejectionOf(dialHbone({ connectSocket: () => net.connect(plainTcp.port, '127.0.0.1'), certificate: clientCert, expectedIdentities: [SERVER_ID] }));
    expect(notTls.code).toBe('HBONE_TLS_HANDSHAKE');
    await plainTcp.close();
    const throwing = await rejectionOf(
      dialHbone({
        connectSocket: () => {
          throw new Error('EPERM entering netns');
        },
        certificate: clientCert,
        expectedIdentities: [SERVER_ID],
      }),
    );
    expect(throwing.code).toBe('HBONE_CONNECT_FAILED');
  });
});
