// copyBidirectional between two TCP connections (a proxy in the middle): half-close, resets and
// byte counts, observed from the application sockets at either end.
import net from 'node:net';
import { PassThrough, Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { copyBidirectional, resetStream, type CopyHandle } from './copy.ts';
import { pollUntil, readAll } from './test-fixtures.ts';

const open: net.Socket[] = [];
const servers: net.Server[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A connected loopback TCP pair, both ends half-open capable. */
async function tcpPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer({ allowHalfOpen: true });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  const peer = await accepted;
  await new Promise((r) => (client.connecting ? client.once('connect', r) : r(undefined)));
  for (const s of [client, peer]) {
    s.on('error', () => undefined);
    open.push(s);
  }
  return [client, peer];
}

/** appA ⇄ [proxyA ⇄ copy ⇄ proxyB] ⇄ appB */
async function proxied(): Promise<{ appA: net.Socket; appB: net.Socket; copy: CopyHandle }> {
  const [appA, proxyA] = await tcpPair();
  const [proxyB, appB] = await tcpPair();
  return { appA, appB, copy: copyBidirectional(proxyA, proxyB) };
}

describe('copyBidirectional', () => {
  it('forwards a half-close each way independently and counts bytes', async () => {
    const { appA, appB, copy } = await proxied();
    const atB = readAll(appB);
    appA.end('request'); // A is done sending but still reading
    expect((await atB).toString()).toBe('request');
    const atA = readAll(appA);
    appB.write('response part 1, ');
    appB.end('part 2');
    expect((await atA).toString()).toBe('response part 1, part 2');
    expect(await copy.done).toEqual({ kind: 'closed', stats: { aToB: 7, bToA: 23 } });
  });

  it('turns a reset on one side into a reset on the other', async () => {
    const { appA, appB, copy } = await proxied();
    const errors: string[] = [];
    appB.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? ''));
    appA.write('x');
    await pollUntil(() => copy.stats.aToB === 1, 'the first byte');
    appA.resetAndDestroy();
    const result = await copy.done;
    expect(result).toMatchObject({ kind: 'reset', side: 'a' });
    await pollUntil(() => errors.includes('ECONNRESET'), 'appB to see ECONNRESET');
  });

  it('resets both sides on abort()', async () => {
    const { appA, appB, copy } = await proxied();
    const errs: string[] = [];
    appA.on('error', (e: NodeJS.ErrnoException) => errs.push(`a:${e.code}`));
    appB.on('error', (e: NodeJS.ErrnoException) => errs.push(`b:${e.code}`));
    copy.abort(new Error('policy changed'));
    expect(await copy.done).toMatchObject({ kind: 'reset', side: 'local' });
    await pollUntil(() => errs.includes('a:ECONNRESET') && errs.includes('b:ECONNRESET'), 'both apps reset');
  });

  it('settles at once when a side is already gone', async () => {
    const gone = new PassThrough();
    gone.destroy();
    const other = new PassThrough();
    const r = await copyBidirectional(gone, other).done;
    expect(r).toMatchObject({ kind: 'reset', side: 'a' });
    expect(other.destroyed).toBe(true);
  });

  it('pauses the source while the destination is over its high-water mark', async () => {
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    let written = 0;
    const slow = new Duplex({
      highWaterMark: 1024,
      read() {},
      write(chunk: Buffer, _e, cb) {
        written += chunk.length;
        void blocked.then(() => cb());
      },
    });
    let produced = 0;
    const fast = new Duplex({
      read() {
        if (produced < 1024 * 1024) {
          produced += 16 * 1024;
          this.push(Buffer.alloc(16 * 1024));
        }
      },
      write(_c, _e, cb) {
        cb();
      },
    });
    copyBidirectional(fast, slow);
    await pollUntil(() => written > 0 && fast.isPaused(), 'the source to be paused');
    // One chunk went to the stuck writer; the source stopped after a few buffers, not 1 MiB.
    expect(produced).toBeLessThan(128 * 1024);
    release();
    await pollUntil(() => produced === 1024 * 1024, 'the rest to flow once drained');
  });

  it('resetStream aborts TCP sockets with RST', async () => {
    const [a, b] = await tcpPair();
    const errs: string[] = [];
    b.on('error', (e: NodeJS.ErrnoException) => errs.push(e.code ?? ''));
    resetStream(a);
    await pollUntil(() => errs.includes('ECONNRESET'), 'the peer to see RST');
  });
});
