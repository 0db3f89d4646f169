// Pooling behaviour against a real HBONE server on loopback: how many TLS connections carry how
// many streams, idle eviction, GOAWAY, dial failures and timeouts.
import net from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { HboneError } from './errors.ts';
import { poolKeyString, type ConnectRequest } from './pool.ts';
import { HboneServer } from './server.ts';
import { CLIENT_ID, SERVER_ID, dialLoopbackUpstream, hboneTestBed, pollUntil, readAll, rejectionOf, startTcpApp } from './test-fixtures.ts';
import { tlsContextOptions } from './tls-context.ts';

const bed = hboneTestBed();
const { serverFixture, pool } = bed;

function request(f: { host: string; port: number }, over: Partial<ConnectRequest> = {}): ConnectRequest {
  return {
    key: { srcIdentity: CLIENT_ID, dstIdentities: [SERVER_ID], dstAddress: `${f.host}:${f.port}` },
    authority: `127.0.0.1:${bed.echoApp.port}`,
    connectSocket: () => net.connect(f.port, f.host),
    ...over,
  };
}

describe('poolKeyString', () => {
  it('treats destination identities as a set and keeps every other field significant', () => {
    const k = { srcIdentity: 'a', dstIdentities: ['x', 'y'], dstAddress: '10.0.0.1:15008' };
    expect(poolKeyString(k)).toBe(poolKeyString({ ...k, dstIdentities: ['y', 'x', 'x'] }));
    expect(poolKeyString(k)).not.toBe(poolKeyString({ ...k, srcIdentity: 'b' }));
    expect(poolKeyString(k)).not.toBe(poolKeyString({ ...k, dstIdentities: ['x'] }));
    expect(poolKeyString(k)).not.toBe(poolKeyString({ ...k, dstAddress: '10.0.0.2:15008' }));
    expect(poolKeyString(k)).not.toBe(poolKeyString({ ...k, srcAddress: '10.0.0.9' }));
  });
});

describe('HbonePool', () => {
  it('carries 100 concurrent streams on one TLS connection and opens a second for the 101st', async () => {
    const f = await serverFixture();
    const p = pool();
    const first = await Promise.all(Array.from({ length: 100 }, () => p.open(request(f))));
    expect(f.accepted()).toBe(1);
    expect(p.stats()).toEqual({ keys: 1, connections: 1, streams: 100 });
    const extra = await p.open(request(f));
    expect(f.accepted()).toBe(2);
    expect(p.stats()).toEqual({ keys: 1, connections: 2, streams: 101 });
    // Every stream is a working tunnel of its own.
    const replies = await Promise.all(
      [...first, extra].map(async (t, i) => {
        const got = readAll(t.stream);
        t.stream.end(`n${i}`);
        return (await got).toString();
      }),
    );
    expect(replies).toEqual([...first, extra].map((_, i) => `n${i}`));
    await pollUntil(() => p.stats().streams === 0, 'all streams released');
    // Freed slots are reused: no new connection.
    const again = await p.open(request(f));
    again.stream.destroy();
    expect(f.accepted()).toBe(2);
  });

  it('fills one connection before dialling the next when requests race (limit 10, 25 at once)', async () => {
    const f = await serverFixture();
    const p = pool({ maxStreamsPerConnection: 10 });
    const ts = await Promise.all(Array.from({ length: 25 }, () => p.open(request(f))));
    expect(f.accepted()).toBe(3);
    expect(p.stats().connections).toBe(3);
    for (const t of ts) t.stream.destroy();
  });

  it('keeps different keys apart and reuses a connection across sequential tunnels', async () => {
    const f = await serverFixture();
    const p = pool();
    for (let i = 0; i < 3; i++) {
      const t = await p.open(request(f));
      const got = readAll(t.stream);
      t.stream.end('x');
      await got;
    }
    expect(f.accepted()).toBe(1);
    const other = 'spiffe://cluster.local/ns/client-ns/sa/other-client';
    const t = await p.open(request(f, { key: { srcIdentity: other, dstIdentities: [SERVER_ID], dstAddress: `${f.host}:${f.port}` } }));
    expect(f.tunnels.at(-1)!.peerIdentity.serviceAccount).toBe('other-client');
    expect(f.accepted()).toBe(2);
    expect(p.stats().keys).toBe(2);
    t.stream.destroy();
  });

  it('evicts a connection once it has been unused for the idle timeout', async () => {
    const f = await serverFixture();
    const p = pool({ idleTimeoutMs: 50 });
    const t = await p.open(request(f));
    const got = readAll(t.stream);
    t.stream.end('x');
    await got;
    await pollUntil(() => p.stats().connections === 0 && f.server.connectionCount === 0, 'idle eviction');
    await (await p.open(request(f))).stream.destroy();
    expect(f.accepted()).toBe(2);
  });

  it('stops using a connection after GOAWAY and dials a new one', async () => {
    const f = await serverFixture();
    const p = pool();
    const t = await p.open(request(f));
    t.stream.destroy();
    await f.server.close(); // GOAWAY; detaches from the listener
    await pollUntil(() => p.stats().connections === 0, 'the pool to drop the connection');
    const successor = new HboneServer({ getCertificate: () => bed.serverCert, onTunnel: dialLoopbackUpstream, keepalive: false });
    successor.attach(f.listener);
    bed.defer(() => successor.destroy());
    const t2 = await p.open(request(f));
    const got = readAll(t2.stream);
    t2.stream.end('after goaway');
    expect((await got).toString()).toBe('after goaway');
    expect(f.accepted()).toBe(2);
  });

  it('reports a refused connection as HBONE_CONNECT_FAILED to every waiter, then recovers', async () => {
    const closed = await startTcpApp(() => undefined);
    await closed.close();
    const target = { host: '127.0.0.1', port: closed.port };
    const p = pool();
    const errs = await Promise.all([rejectionOf(p.open(request(target))), rejectionOf(p.open(request(target)))]);
    for (const e of errs) {
      expect(e).toBeInstanceOf(HboneError);
      expect(e.code).toBe('HBONE_CONNECT_FAILED');
    }
    expect(p.stats().connections).toBe(0);
  });

  it('times out a TCP connect with the NetworkPolicy hint', async () => {
    const p = pool({ connectTimeoutMs: 50 });
    const pending = new net.Socket();
    bed.defer(() => void pending.destroy());
    // A socket that never connects, like a SYN dropped by a NetworkPolicy.
    Object.defineProperty(pending, 'connecting', { value: true });
    const err = await rejectionOf(p.open(request({ host: '127.0.0.1', port: 1 }, { connectSocket: () => pending })));
    expect(err.code).toBe('HBONE_CONNECT_TIMEOUT');
    expect(err.message).toContain('maybe a NetworkPolicy is blocking HBONE port 15008');
    expect(pending.destroyed).toBe(true);
  });

  it('tears down a connection whose peer stops answering PINGs', async () => {
    // A TLS peer that completes the handshake, then never sends a byte (no SETTINGS, no PING ack).
    const mute = tls.createServer({ ...tlsContextOptions(bed.serverCert), requestCert: true, ALPNProtocols: ['h2'] }, (s) => s.resume());
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    bed.defer(() => new Promise<void>((r) => mute.close(() => r())));
    const port = (mute.address() as net.AddressInfo).port;
    const p = pool({ keepalive: { intervalMs: 20, timeoutMs: 60 } });
    const err = await rejectionOf(p.open(request({ host: '127.0.0.1', port })));
    expect(err.code).toBe('HBONE_KEEPALIVE_TIMEOUT');
    await pollUntil(() => p.stats().connections === 0, 'the pool to drop the dead connection');
  });

  it('gives up on a CONNECT the server takes and never answers, and stops using that connection', async () => {
    // The first stream is taken and left hanging (onTunnel never settles); later ones are served.
    let calls = 0;
    const aborted: boolean[] = [];
    const f = await serverFixture({
      onTunnel: (req) => {
        if (calls++ > 0) return dialLoopbackUpstream(req);
        return new Promise(() => req.signal.addEventListener('abort', () => aborted.push(true)));
      },
    });
    const p = pool({ responseTimeoutMs: 100 });
    const err = await rejectionOf(p.open(request(f)));
    expect(err).toBeInstanceOf(HboneError);
    expect(err.code).toBe('HBONE_RESPONSE_TIMEOUT');
    expect(err.message).toContain('got no response within 100 ms');
    // The stream was cancelled (the server saw it go) and the slot freed.
    await pollUntil(() => aborted.length === 1, 'the server to see the stream cancelled');
    await pollUntil(() => p.stats().streams === 0 && p.stats().connections === 0, 'the pool to drop the unresponsive connection');
    const t = await p.open(request(f));
    const got = readAll(t.stream);
    t.stream.end('next');
    expect((await got).toString()).toBe('next');
    expect(f.accepted()).toBe(2);
  });

  it('refuses new tunnels once closed', async () => {
    const f = await serverFixture();
    const p = pool();
    await p.close();
    expect((await rejectionOf(p.open(request(f)))).code).toBe('HBONE_POOL_CLOSED');
  });
});
