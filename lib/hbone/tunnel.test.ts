// End-to-end HBONE on loopback: our pool (client) against our server, certificates from our CA.
import net from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { copyBidirectional, resetStream } from './copy.ts';
import { HboneError } from './errors.ts';
import { HbonePool, type ConnectRequest } from './pool.ts';
import {
  CLIENT_ID,
  SERVER_ID,
  createTestPki,
  pollUntil,
  readAll,
  rejectionOf,
  sha256,
  startHboneServer,
  startTcpApp,
  type HboneFixture,
  type TestPki,
  type TcpApp,
} from './test-fixtures.ts';

let pki: TestPki;
const cleanups: (() => Promise<void> | void)[] = [];
beforeAll(async () => {
  pki = await createTestPki();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serverFixture(opts: Partial<Parameters<typeof startHboneServer>[0]> = {}): Promise<HboneFixture> {
  const cert = await pki.cert(SERVER_ID);
  const f = await startHboneServer({ getCertificate: () => cert, ...opts });
  cleanups.push(() => f.close());
  return f;
}

async function app(onSocket: (s: net.Socket) => void): Promise<TcpApp> {
  const a = await startTcpApp(onSocket);
  cleanups.push(() => a.close());
  return a;
}

function pool(opts: Partial<ConstructorParameters<typeof HbonePool>[0]> = {}): HbonePool {
  const p = new HbonePool({ getCertificate: (id) => pki.cert(id), keepalive: false, ...opts });
  cleanups.push(() => p.close());
  return p;
}

function request(f: HboneFixture, targetPort: number, over: Partial<ConnectRequest['key']> = {}): ConnectRequest {
  return {
    key: { srcIdentity: CLIENT_ID, dstIdentities: [SERVER_ID], dstAddress: `${f.host}:${f.port}`, ...over },
    authority: `127.0.0.1:${targetPort}`,
    headers: { baggage: 'k8s.namespace.name=client-ns,k8s.pod.name=client-0', forwarded: 'for="127.0.0.1:40000"' },
    connectSocket: () => net.connect(f.port, f.host),
  };
}

const echo = (s: net.Socket): void => void s.pipe(s);

describe('HBONE tunnel', () => {
  it('carries data both ways and gives the server the peer identity and CONNECT headers', async () => {
    const f = await serverFixture();
    const a = await app(echo);
    const p = pool();
    const t = await p.open(request(f, a.port));
    expect(t.responseHeaders[':status']).toBe(200);
    expect(t.peerIdentity).toEqual({ trustDomain: 'cluster.local', namespace: 'server-ns', serviceAccount: 'server' });
    const got = readAll(t.stream);
    t.stream.end('ping');
    expect((await got).toString()).toBe('ping');
    const req = f.tunnels[0]!;
    expect(req.peerIdentity).toEqual({ trustDomain: 'cluster.local', namespace: 'client-ns', serviceAccount: 'client' });
    expect(req.localIdentity.serviceAccount).toBe('server');
    expect(req.authority).toEqual({ kind: 'ip', ip: '127.0.0.1', port: a.port, family: 4 });
    expect(req.headers.baggage).toBe('k8s.namespace.name=client-ns,k8s.pod.name=client-0');
    expect(req.headers.forwarded).toBe('for="127.0.0.1:40000"');
    expect(req.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    expect(req.localAddress).toEqual({ address: '127.0.0.1', port: f.port });
    expect(req.remoteAddress.address).toBe('127.0.0.1');
  });

  it('carries a client half-close: the app sees FIN, still answers, then the client sees END_STREAM', async () => {
    const f = await serverFixture();
    const a = await app((s) => {
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => s.end(`got ${Buffer.concat(chunks).toString()}`)); // reply after our FIN
    });
    const t = await pool().open(request(f, a.port));
    const got = readAll(t.stream);
    t.stream.write('abc');
    t.stream.end('def');
    expect((await got).toString()).toBe('got abcdef');
  });

  it('carries an app half-close: the client sees END_STREAM and can keep sending', async () => {
    const f = await serverFixture();
    const received: Buffer[] = [];
    let appSawEnd = false;
    const a = await app((s) => {
      s.end('bye'); // FIN first; the read side stays open
      s.on('data', (c: Buffer) => received.push(c));
      s.on('end', () => (appSawEnd = true));
    });
    const t = await pool().open(request(f, a.port));
    expect((await readAll(t.stream)).toString()).toBe('bye');
    t.stream.write('still ');
    t.stream.end('here');
    await pollUntil(() => appSawEnd, 'app to see the client FIN');
    expect(Buffer.concat(received).toString()).toBe('still here');
  });

  it('rejects a server whose identity is not expected', async () => {
    const f = await serverFixture();
    const a = await app(echo);
    const err = await rejectionOf(pool().connect(request(f, a.port, { dstIdentities: ['spiffe://cluster.local/ns/server-ns/sa/someone-else'] })));
    expect(err).toBeInstanceOf(HboneError);
    expect(err.code).toBe('HBONE_SERVER_IDENTITY');
    expect(f.tunnels).toHaveLength(0);
  });

  it('surfaces an onTunnel rejection as HBONE_STATUS with the status', async () => {
    const f = await serverFixture({ onTunnel: async () => ({ kind: 'reject', status: 401, reason: 'denied by policy' }) });
    const err = await rejectionOf(pool().connect(request(f, 1)));
    expect(err).toBeInstanceOf(HboneError);
    expect(err.code).toBe('HBONE_STATUS');
    expect(err.status).toBe(401);
    expect(f.events).toContainEqual(expect.objectContaining({ kind: 'stream-rejected', status: 401 }));
  });

  it('answers 503 when the upstream connect fails', async () => {
    const f = await serverFixture();
    const closed = await startTcpApp(() => undefined);
    await closed.close(); // a port nothing listens on
    const err = await rejectionOf(pool().connect(request(f, closed.port)));
    expect(err.code).toBe('HBONE_STATUS');
    expect(err.status).toBe(503);
  });

  it('answers 503 when onTunnel throws', async () => {
    const f = await serverFixture({
      onTunnel: async () => {
        throw new Error('bug');
      },
    });
    expect((await rejectionOf(pool().connect(request(f, 1)))).status).toBe(503);
  });

  it('sends 200 only after onTunnel accepted', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const a = await app(echo);
    const f = await serverFixture({
      onTunnel: async (req) => {
        await gate;
        const up = net.connect({ port: req.authority.kind === 'ip' ? req.authority.port : 0, host: '127.0.0.1', allowHalfOpen: true });
        await new Promise((r) => up.once('connect', r));
        return { kind: 'accept', upstream: up, responseHeaders: { baggage: 'k8s.pod.name=server-0' } };
      },
    });
    let settled = false;
    const opening = pool().open(request(f, a.port)).finally(() => (settled = true));
    await pollUntil(() => f.tunnels.length === 1, 'the CONNECT to reach the server');
    expect(settled).toBe(false);
    release();
    const t = await opening;
    expect(t.responseHeaders['baggage']).toBe('k8s.pod.name=server-0');
    t.stream.destroy();
  });

  it('propagates an app reset to the client as RST_STREAM (and on to a client-side app as TCP RST)', async () => {
    const f = await serverFixture();
    const a = await app(() => undefined);
    const t = await pool().open(request(f, a.port));
    // Client side as ztunnel's outbound would run it: the local app's socket copied to the tunnel.
    const clientAppErrors: string[] = [];
    let clientAppSawEnd = false;
    const outbound = await startTcpApp((downstream) => void copyBidirectional(downstream, t.stream));
    cleanups.push(() => outbound.close());
    const clientApp = net.connect({ port: outbound.port, host: '127.0.0.1', allowHalfOpen: true });
    clientApp.on('error', (e: NodeJS.ErrnoException) => clientAppErrors.push(e.code ?? ''));
    clientApp.on('end', () => (clientAppSawEnd = true));
    const events: string[] = [];
    t.stream.on('aborted', () => events.push('aborted')).on('end', () => events.push('end'));
    await pollUntil(() => a.sockets.length === 1 && outbound.sockets.length === 1, 'both app connections');
    const closed = new Promise((r) => t.stream.once('close', r));
    a.sockets[0]!.resetAndDestroy();
    await closed;
    // Http2Stream#rstCode is public; the pool hands the stream out as a Duplex.
    expect('rstCode' in t.stream ? t.stream.rstCode : undefined).toBe(8); // CANCEL
    expect(events[0]).toBe('aborted'); // no END_STREAM ahead of the RST_STREAM
    await pollUntil(() => clientAppErrors.includes('ECONNRESET'), 'the client app to see ECONNRESET');
    expect(clientAppSawEnd).toBe(false);
  });

  it('propagates a client reset to the app as TCP RST', async () => {
    const f = await serverFixture();
    const appErrors: string[] = [];
    let appSawEnd = false;
    const a = await app((s) => {
      s.on('error', (e: NodeJS.ErrnoException) => appErrors.push(e.code ?? ''));
      s.on('end', () => (appSawEnd = true));
    });
    const t = await pool().open(request(f, a.port));
    await pollUntil(() => a.sockets.length === 1, 'the app connection');
    resetStream(t.stream);
    await pollUntil(() => appErrors.includes('ECONNRESET'), 'the app to see ECONNRESET');
    expect(appSawEnd).toBe(false); // a pure RST_STREAM, not END_STREAM first
  });

  it('moves 16 MiB each way through slow consumers with bounded buffering', async () => {
    const SIZE = 16 * 1024 * 1024;
    const data = Buffer.alloc(SIZE);
    for (let i = 0; i < SIZE; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
    // The upstream is an in-process pull stream, so the test sees exactly how far the server read
    // ahead of a slow client (server→client) and how far the client got ahead of a slow app.
    let produced = 0;
    let appReceived = 0;
    const appChunks: Buffer[] = [];
    const upstream = new Duplex({
      read(size) {
        if (produced >= SIZE) return void this.push(null);
        const n = Math.min(size, SIZE - produced);
        this.push(data.subarray(produced, produced + n));
        produced += n;
      },
      write(chunk: Buffer, _enc, cb) {
        appChunks.push(chunk);
        appReceived += chunk.length;
        setTimeout(cb, 0); // a slow application
      },
    });
    const f = await serverFixture({ onTunnel: async () => ({ kind: 'accept', upstream }) });
    const t = await pool().open(request(f, 1));
    let clientReceived = 0;
    let maxAhead = 0;
    const clientChunks: Buffer[] = [];
    const downloaded = new Promise<void>((resolve) => {
      t.stream.on('data', (c: Buffer) => {
        clientChunks.push(c);
        clientReceived += c.length;
        maxAhead = Math.max(maxAhead, produced - clientReceived);
        // A slow reader: pause after each chunk for a timer tick.
        t.stream.pause();
        setTimeout(() => t.stream.resume(), 0);
      });
      t.stream.on('end', resolve);
    });
    let maxSentAhead = 0;
    for (let off = 0; off < SIZE; off += 256 * 1024) {
      if (!t.stream.write(data.subarray(off, off + 256 * 1024))) await new Promise((r) => t.stream.once('drain', r));
      maxSentAhead = Math.max(maxSentAhead, off - appReceived);
    }
    t.stream.end();
    await downloaded;
    await pollUntil(() => appReceived === SIZE, 'the app to receive everything', 10_000);
    expect(sha256(Buffer.concat(clientChunks))).toBe(sha256(data));
    expect(sha256(Buffer.concat(appChunks))).toBe(sha256(data));
    // Without backpressure either gap would approach the whole 16 MiB; with it, it is bounded by
    // the 4 MiB stream window plus a few buffers.
    expect(maxAhead).toBeLessThan(8 * 1024 * 1024);
    expect(maxSentAhead).toBeLessThan(8 * 1024 * 1024);
  }, 30_000);
});

describe('HboneServer.destroy', () => {
  it('resets the app side of live tunnels: the app sees an abort, not a clean end', async () => {
    const f = await serverFixture();
    const seen: string[] = [];
    const a = await app((s) => {
      s.on('end', () => seen.push('end'));
      s.on('error', (e: NodeJS.ErrnoException) => seen.push(`error:${e.code}`));
    });
    const t = await pool().open(request(f, a.port));
    t.stream.on('error', () => {});
    t.stream.write('hello');
    await pollUntil(() => a.sockets.length === 1, 'the app connection');
    f.server.destroy();
    await pollUntil(() => seen.length > 0, 'the app to see the tunnel go');
    expect(seen).toEqual(['error:ECONNRESET']);
  });
});
