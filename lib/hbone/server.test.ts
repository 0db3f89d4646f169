// The HBONE server's admission rules against raw TLS/HTTP/2 clients: what it refuses at the TLS
// layer, what it answers 400, and that bad peers cost only their own connection.
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WorkloadCertificate } from '../identity/certificate.ts';
import { CertificateAuthority } from '../identity/ca.ts';
import { issueWorkloadCertificate } from '../identity/local-issuer.ts';
import { forgeWorkloadCertificate, type TestSan } from '../identity/test-certificates.ts';
import { parseClientHello, type ClientHelloSummary } from './client-hello.ts';
import { HbonePool } from './pool.ts';
import {
  CLIENT_ID,
  SERVER_ID,
  createTestPki,
  hboneTestBed,
  pollUntil,
  readAll,
  rejectionOf,
  startTcpApp,
  type HboneFixture,
} from './test-fixtures.ts';

const bed = hboneTestBed();
const { serverFixture, pool } = bed;
let clientCert: WorkloadCertificate;
beforeAll(async () => {
  clientCert = await bed.pki.cert(CLIENT_ID);
});

function tunnelThrough(p: HbonePool, f: HboneFixture, dstIdentities = [SERVER_ID]) {
  return p.open({
    key: { srcIdentity: CLIENT_ID, dstIdentities, dstAddress: `${f.host}:${f.port}` },
    authority: `127.0.0.1:${bed.echoApp.port}`,
    connectSocket: () => net.connect(f.port, f.host),
  });
}

async function echoOnce(p: HbonePool, f: HboneFixture): Promise<string> {
  const t = await tunnelThrough(p, f);
  const got = readAll(t.stream);
  t.stream.end('hi');
  return (await got).toString();
}

/** A raw TLS client; resolves with how the connection ended. */
function rawTls(port: number, opts: tls.ConnectionOptions): Promise<{ outcome: 'error' | 'closed'; error?: string }> {
  return new Promise((resolve) => {
    const s = tls.connect({ port, host: '127.0.0.1', ALPNProtocols: ['h2'], checkServerIdentity: () => undefined, ...opts });
    s.on('error', (e: NodeJS.ErrnoException) => resolve({ outcome: 'error', error: e.code ?? e.message }));
    // TLS 1.3: the client may finish its handshake before the server rejects its certificate, so
    // a rejection can also look like a close right after 'secureConnect'. Sending bytes forces it.
    s.on('secureConnect', () => s.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
    s.on('close', () => resolve({ outcome: 'closed' }));
    s.resume();
  });
}

/** An HTTP/2 client with a valid mesh certificate, for requests the pool would never send. */
async function rawH2(f: HboneFixture): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`https://127.0.0.1:${f.port}`, {
    ca: clientCert.rootsPem,
    cert: clientCert.certChainPem.join(''),
    key: clientCert.keyPem,
    servername: '',
    checkServerIdentity: () => undefined,
  });
  session.on('error', () => undefined);
  bed.defer(() => void session.destroy());
  await new Promise((r) => session.once('connect', r));
  return session;
}

function statusOf(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = session.request(headers, { endStream: false });
    s.on('response', (h) => resolve(h[':status'] ?? 0));
    s.on('error', reject);
  });
}

describe('HBONE server TLS admission', () => {
  it('rejects a client without a certificate', async () => {
    const f = await serverFixture();
    const r = await rawTls(f.port, { ca: bed.serverCert.rootsPem });
    expect(r.outcome).toBe('error');
    await pollUntil(() => f.events.length === 1, 'the rejection event');
    expect(f.events[0]).toMatchObject({ kind: 'connection-rejected', error: { code: 'HBONE_TLS_HANDSHAKE' } });
  });

  it('rejects a client certificate from another trust domain even when its chain is trusted', async () => {
    const other = await createTestPki('other.domain');
    const foreign = await other.cert('spiffe://other.domain/ns/client-ns/sa/client');
    // Trust both roots so chain validation passes and the trust-domain check is what rejects.
    const trustingBoth: WorkloadCertificate = { ...bed.serverCert, rootsPem: bed.serverCert.rootsPem + foreign.rootsPem };
    const f = await serverFixture({ getCertificate: () => trustingBoth });
    const r = await rawTls(f.port, { ca: bed.serverCert.rootsPem, cert: foreign.certChainPem.join(''), key: foreign.keyPem });
    expect(r.outcome === 'closed' || r.outcome === 'error').toBe(true);
    await pollUntil(() => f.events.length === 1, 'the rejection event');
    expect(f.events[0]).toMatchObject({ kind: 'connection-rejected', error: { code: 'HBONE_CLIENT_IDENTITY' } });
    expect(f.tunnels).toHaveLength(0);
  });

  it('rejects a client certificate with several URI SANs or none, though its chain is trusted', async () => {
    const cases: [TestSan[], string][] = [
      [[{ type: 'url', value: CLIENT_ID }, { type: 'url', value: 'spiffe://cluster.local/ns/other/sa/other' }], 'carries 2 URI SANs'],
      [[{ type: 'dns', value: 'client.example' }], 'carries no URI SAN'],
    ];
    for (const [sans, why] of cases) {
      const forged = await forgeWorkloadCertificate(bed.pki.root, CLIENT_ID, sans);
      const f = await serverFixture();
      const r = await rawTls(f.port, { ca: bed.serverCert.rootsPem, cert: forged.certChainPem.join(''), key: forged.keyPem });
      expect(r.outcome === 'closed' || r.outcome === 'error').toBe(true);
      await pollUntil(() => f.events.length === 1, 'the rejection event');
      expect(f.events[0]).toMatchObject({ kind: 'connection-rejected', error: { code: 'HBONE_CLIENT_IDENTITY', message: expect.stringContaining(why) } });
      expect(f.tunnels).toHaveLength(0);
    }
  });

  it('rejects a client certificate from an untrusted root', async () => {
    const f = await serverFixture();
    const other = await createTestPki();
    const stranger = await other.cert(CLIENT_ID);
    const r = await rawTls(f.port, { ca: bed.serverCert.rootsPem, cert: stranger.certChainPem.join(''), key: stranger.keyPem });
    expect(r.outcome === 'closed' || r.outcome === 'error').toBe(true);
    await pollUntil(() => f.events.length === 1, 'the rejection event');
    expect(f.events[0]).toMatchObject({ kind: 'connection-rejected', error: { code: 'HBONE_TLS_HANDSHAKE' } });
  });

  it('rejects a TLS 1.2-only client', async () => {
    const f = await serverFixture();
    const r = await rawTls(f.port, { ca: bed.serverCert.rootsPem, cert: clientCert.certChainPem.join(''), key: clientCert.keyPem, maxVersion: 'TLSv1.2' });
    expect(r).toMatchObject({ outcome: 'error' });
  });

  it('rejects a client offering only ChaCha20', async () => {
    const f = await serverFixture();
    const r = await rawTls(f.port, { ca: bed.serverCert.rootsPem, cert: clientCert.certChainPem.join(''), key: clientCert.keyPem, ciphers: 'TLS_CHACHA20_POLY1305_SHA256' });
    expect(r).toMatchObject({ outcome: 'error' });
  });

  it('rejects a client that does not offer ALPN h2', async () => {
    const f = await serverFixture();
    const r = await rawTls(f.port, { ca: bed.serverCert.rootsPem, cert: clientCert.certChainPem.join(''), key: clientCert.keyPem, ALPNProtocols: ['http/1.1'] });
    expect(r.outcome).toBe('error');
  });

  it('survives garbage bytes and keeps serving other connections', async () => {
    const f = await serverFixture();
    const p = pool();
    const open = await tunnelThrough(p, f); // a tunnel that must outlive the garbage
    const garbage = net.connect(f.port, '127.0.0.1');
    garbage.on('error', () => undefined);
    garbage.end('GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\x01\x02 not tls at all');
    const junk2 = net.connect(f.port, '127.0.0.1');
    junk2.on('error', () => undefined);
    junk2.end(Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0x00])); // a truncated "ClientHello"
    await pollUntil(() => f.events.filter((e) => e.kind === 'connection-rejected').length === 2, 'both garbage connections rejected');
    const got = readAll(open.stream);
    open.stream.end('still alive');
    expect((await got).toString()).toBe('still alive');
    expect(await echoOnce(p, f)).toBe('hi');
  });

  it('times out a client that never finishes the handshake', async () => {
    const f = await serverFixture({ handshakeTimeoutMs: 100 });
    const idle = net.connect(f.port, '127.0.0.1');
    idle.on('error', () => undefined);
    await new Promise((r) => idle.once('close', r));
    expect(f.events[0]).toMatchObject({ kind: 'connection-rejected', error: { code: 'HBONE_TLS_TIMEOUT' } });
  });
});

describe('HBONE server certificate selection', () => {
  it('serves the certificate of the local address and waits for a certificate still being fetched', async () => {
    const otherId = 'spiffe://cluster.local/ns/server-ns/sa/second';
    const other = await bed.pki.cert(otherId);
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const f = await serverFixture({
      host: '0.0.0.0',
      getCertificate: async (local) => {
        seen.push(local);
        if (local === '127.0.0.2') {
          await gate; // lazy loading: the pod's certificate arrives after the connection
          return other;
        }
        return bed.serverCert;
      },
    });
    const p = pool();
    const viaFirst = p.open({
      key: { srcIdentity: CLIENT_ID, dstIdentities: [SERVER_ID], dstAddress: `127.0.0.1:${f.port}` },
      authority: `127.0.0.1:${bed.echoApp.port}`,
      connectSocket: () => net.connect(f.port, '127.0.0.1'),
    });
    const viaSecond = p.open({
      key: { srcIdentity: CLIENT_ID, dstIdentities: [otherId], dstAddress: `127.0.0.2:${f.port}` },
      authority: `127.0.0.1:${bed.echoApp.port}`,
      connectSocket: () => net.connect(f.port, '127.0.0.2'),
    });
    expect((await viaFirst).peerIdentity.serviceAccount).toBe('server');
    await pollUntil(() => seen.includes('127.0.0.2'), 'the second lookup');
    release();
    expect((await viaSecond).peerIdentity.serviceAccount).toBe('second');
    (await viaFirst).stream.destroy();
    (await viaSecond).stream.destroy();
  });

  it('refuses a connection when there is no certificate for the local address', async () => {
    const f = await serverFixture({ getCertificate: () => undefined });
    const err = await rejectionOf(tunnelThrough(pool(), f));
    expect(err.code).toBe('HBONE_TLS_HANDSHAKE');
    expect(f.events[0]).toMatchObject({ kind: 'connection-rejected', error: { code: 'HBONE_NO_CERTIFICATE' } });
  });

  it('accepts a chain with an intermediate CA', async () => {
    const ica = await CertificateAuthority.create({ signer: await bed.pki.ca.issueIntermediate(), rootsPem: bed.pki.ca.rootsPem });
    const viaIntermediate = await issueWorkloadCertificate(ica, SERVER_ID);
    expect(viaIntermediate.certChainPem).toHaveLength(2);
    const f = await serverFixture({ getCertificate: () => viaIntermediate });
    expect(await echoOnce(pool(), f)).toBe('hi');
  });
});

describe('HBONE server request validation', () => {
  it('answers 400 to anything but CONNECT ip:port', async () => {
    const f = await serverFixture();
    const session = await rawH2(f);
    expect(await statusOf(session, { ':method': 'GET', ':path': '/' })).toBe(400);
    expect(await statusOf(session, { ':method': 'CONNECT', ':authority': 'svc.ns.svc.cluster.local:80' })).toBe(400);
    expect(await statusOf(session, { ':method': 'CONNECT', ':authority': '127.0.0.1:0' })).toBe(400);
    expect(f.tunnels).toHaveLength(0);
    // The same connection still carries a valid tunnel afterwards.
    expect(await statusOf(session, { ':method': 'CONNECT', ':authority': `127.0.0.1:${bed.echoApp.port}` })).toBe(200);
  });

  it('accepts a bracketed IPv6 authority', async () => {
    const v6App = await startTcpApp((s) => void s.pipe(s), '::1');
    bed.defer(() => v6App.close());
    const f = await serverFixture({ host: '::1' });
    const t = await pool().open({
      key: { srcIdentity: CLIENT_ID, dstIdentities: [SERVER_ID], dstAddress: `[::1]:${f.port}` },
      authority: `[::1]:${v6App.port}`,
      connectSocket: () => net.connect(f.port, '::1'),
    });
    expect(f.tunnels[0]!.authority).toEqual({ kind: 'ip', ip: '::1', port: v6App.port, family: 6 });
    const got = readAll(t.stream);
    t.stream.end('v6');
    expect((await got).toString()).toBe('v6');
  });
});

describe('HBONE client hello on the wire', () => {
  it('sends no SNI, offers only h2, TLS 1.3 and the AES-GCM suites', async () => {
    let hello: ClientHelloSummary | undefined;
    const f = await serverFixture({
      onSocket: (s, server) => {
        // Collect the whole first record, read it, then hand the untouched bytes to the server.
        let buf = Buffer.alloc(0);
        const onData = (chunk: Buffer): void => {
          buf = Buffer.concat([buf, chunk]);
          if (buf.length < 5 || buf.length < 5 + buf.readUInt16BE(3)) return;
          s.off('data', onData);
          s.pause();
          hello = parseClientHello(buf);
          s.unshift(buf);
          server.handleConnection(s);
        };
        s.on('data', onData);
      },
    });
    expect(await echoOnce(pool(), f)).toBe('hi');
    expect(hello).toBeDefined();
    expect(hello!.serverName).toBeUndefined();
    expect(hello!.extensionTypes).not.toContain(0); // server_name
    expect(hello!.alpn).toEqual(['h2']);
    expect(hello!.supportedVersions).toEqual([0x0304]);
    // 0x00ff is the renegotiation SCSV, not a cipher.
    expect(hello!.cipherSuites.filter((c) => c !== 0x00ff).sort()).toEqual([0x1301, 0x1302]);
    expect(hello!.cipherSuites).not.toContain(0x1303); // TLS_CHACHA20_POLY1305_SHA256
  });
});

describe('HBONE server shutdown', () => {
  it('close() lets an open tunnel finish, then resolves', async () => {
    const f = await serverFixture();
    const t = await tunnelThrough(pool(), f);
    let closed = false;
    const closing = f.server.close().then(() => (closed = true));
    const got = readAll(t.stream);
    t.stream.write('last ');
    t.stream.end('words');
    expect((await got).toString()).toBe('last words');
    await closing;
    expect(closed).toBe(true);
    expect(f.server.connectionCount).toBe(0);
    expect(f.server.forcedCloseCount).toBe(0);
  });

  it('close() tears down a tunnel still open after the drain period, app socket included, and reports it', async () => {
    const f = await serverFixture({ drainTimeoutMs: 100 });
    const appSockets = bed.echoApp.sockets.length;
    const t = await tunnelThrough(pool(), f);
    t.stream.on('error', () => undefined);
    const clientGone = new Promise((r) => t.stream.once('close', r));
    // The client never ends its tunnel: close() must not wait for it forever.
    await f.server.close();
    expect(f.server.connectionCount).toBe(0);
    expect(f.server.forcedCloseCount).toBe(1);
    expect(f.events).toEqual([expect.objectContaining({ kind: 'connection-force-closed', tunnels: 1, why: expect.stringContaining('not closed 100 ms after it started draining') })]);
    const app = bed.echoApp.sockets.slice(appSockets);
    expect(app).toHaveLength(1);
    await pollUntil(() => app[0]!.destroyed, 'the app socket to be closed');
    await clientGone;
  });
});
