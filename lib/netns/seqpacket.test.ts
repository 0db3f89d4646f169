// SOCK_SEQPACKET + SCM_RIGHTS as ZDS uses it: datagram boundaries, fds that arrive as the same
// kernel object, peer close, limits (MSG_TRUNC / MSG_CTRUNC) and send-side backpressure.
import { once } from 'node:events';
import { existsSync, fstatSync, mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NetnsError } from './errors.ts';
import { closeFd, isNetns, openNetns, runInNetns } from './netns.ts';
import { SeqpacketServer, SeqpacketSocket, type SeqpacketMessage } from './seqpacket.ts';
import { createThrowawayNetns, isRoot, ROOT_REASON, type ThrowawayNetns } from './throwaway-netns.ts';

const open: { close(): void }[] = [];
const fds: number[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
  for (const fd of fds.splice(0)) closeFd(fd);
});
function pair(opts?: Parameters<typeof SeqpacketSocket.pair>[0]): [SeqpacketSocket, SeqpacketSocket] {
  const p = SeqpacketSocket.pair(opts);
  open.push(...p);
  return p;
}
/** Resolves with the next `n` messages; received fds are registered for cleanup. */
function nextMessages(s: SeqpacketSocket, n: number): Promise<SeqpacketMessage[]> {
  return new Promise((resolve, reject) => {
    const got: SeqpacketMessage[] = [];
    const onMessage = (m: SeqpacketMessage): void => {
      fds.push(...m.fds);
      got.push(m);
      if (got.length === n) {
        s.off('message', onMessage).off('error', reject);
        resolve(got);
      }
    };
    s.on('message', onMessage).once('error', reject);
  });
}

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'amt-seqpacket-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SeqpacketSocket', () => {
  it('keeps message boundaries, including empty messages', async () => {
    const [a, b] = pair();
    const received = nextMessages(b, 4);
    a.send(Buffer.from('one'));
    a.send(Buffer.alloc(0));
    a.send(Buffer.alloc(1024, 7));
    a.send(Buffer.from('four'));
    const got = (await received).map((m) => m.data);
    expect(got.map((d) => d.length)).toEqual([3, 0, 1024, 4]);
    expect(got[0]?.toString()).toBe('one');
    expect(got[2]?.every((x) => x === 7)).toBe(true);
    expect(got[3]?.toString()).toBe('four');
  });

  it('passes an fd that refers to the same kernel object (own netns, no root needed)', async () => {
    const [a, b] = pair();
    const nsFd = openNetns('/proc/self/ns/net');
    fds.push(nsFd);
    const received = nextMessages(b, 1);
    a.send(Buffer.from('add'), [nsFd]);
    const [msg] = await received;
    expect(msg?.data.toString()).toBe('add');
    expect(msg?.fds).toHaveLength(1);
    const got = msg!.fds[0]!;
    expect(got).not.toBe(nsFd);
    expect(fstatSync(got).ino).toBe(fstatSync(nsFd).ino);
    expect(readlinkSync(`/proc/self/fd/${got}`)).toBe(readlinkSync('/proc/self/ns/net'));
    expect(isNetns(got)).toBe(true);
  });

  it('emits close when the peer closes, and refuses to send afterwards', async () => {
    const [a, b] = pair();
    const closed = once(b, 'close');
    a.close();
    await closed;
    expect(b.closed).toBe(true);
    expect(() => b.send(Buffer.from('x'))).toThrow(expect.objectContaining({ code: 'EPIPE' }));
  });

  it('delivers messages sent just before the peer closed, then close', async () => {
    const [a, b] = pair();
    const events: string[] = [];
    b.on('message', (m) => events.push(m.data.toString()));
    const closed = once(b, 'close').then(() => events.push('close'));
    a.send(Buffer.from('last words'));
    a.close();
    await closed;
    expect(events).toEqual(['last words', 'close']);
  });

  it('rejects a message over maxMessageBytes (MSG_TRUNC) with an error, then closes', async () => {
    const [a, b] = pair({ maxMessageBytes: 16 });
    // Listeners first: events.once(b, 'close') alone would reject on the 'error' that precedes it.
    const err = once(b, 'error') as Promise<[NetnsError]>;
    const closed = new Promise<void>((resolve) => b.once('close', () => resolve()));
    a.send(Buffer.alloc(100));
    const [e] = await err;
    expect(e).toBeInstanceOf(NetnsError);
    expect(e).toMatchObject({ code: 'EMSGSIZE', syscall: 'recvmsg' });
    expect(e.message).toMatch(/MSG_TRUNC/);
    await closed;
  });

  it('on MSG_CTRUNC closes the fds that did arrive and reports an error', async () => {
    // The probe's peer sees EOF only once every copy of the probe end is closed: ours, and the one
    // the receiver got before discovering the message carried too many fds.
    const [probe, probePeer] = SeqpacketSocket.pair();
    open.push(probePeer);
    const [a, b] = pair({ maxFds: 1 });
    const extra = openNetns('/proc/self/ns/net');
    fds.push(extra);
    const err = once(b, 'error') as Promise<[NetnsError]>;
    a.send(Buffer.from('two fds'), [probe.fd, extra]);
    probe.close();
    const [e] = await err;
    expect(e).toMatchObject({ code: 'EMSGSIZE', syscall: 'recvmsg' });
    expect(e.message).toMatch(/MSG_CTRUNC/);
    await once(probePeer, 'close');
  });

  it('refuses oversize sends synchronously', () => {
    const [a] = pair();
    expect(() => a.send(Buffer.alloc(65537))).toThrow(expect.objectContaining({ code: 'EMSGSIZE' }));
    expect(() => a.send(Buffer.alloc(1), new Array<number>(33).fill(0))).toThrow(expect.objectContaining({ code: 'EMSGSIZE' }));
  });

  it('queues when the socket buffer is full, emits drain, and delivers everything in order', async () => {
    const [a, b] = pair();
    b.pause();
    const payload = (i: number): Buffer => Buffer.alloc(4096, i % 251);
    let sent = 0;
    while (a.send(payload(sent))) sent++;
    const total = sent + 20;
    for (let i = sent + 1; i < total; i++) expect(a.send(payload(i))).toBe(false);
    const drained = once(a, 'drain');
    const received = nextMessages(b, total);
    b.resume();
    await drained;
    const got = await received;
    expect(got.map((m) => m.data[0])).toEqual(Array.from({ length: total }, (_, i) => i % 251));
  });

  it('lets a sender close its fds right after a queued send', async () => {
    const [a, b] = pair();
    b.pause();
    while (a.send(Buffer.alloc(4096)));
    const nsFd = openNetns('/proc/self/ns/net');
    const ino = fstatSync(nsFd).ino;
    expect(a.send(Buffer.from('late'), [nsFd])).toBe(false);
    closeFd(nsFd);
    const received = new Promise<SeqpacketMessage>((resolve) => {
      b.on('message', (m) => {
        fds.push(...m.fds);
        if (m.data.toString() === 'late') resolve(m);
      });
    });
    b.resume();
    const late = await received;
    expect(late.fds).toHaveLength(1);
    expect(fstatSync(late.fds[0]!).ino).toBe(ino);
  });
});

describe('SeqpacketServer', () => {
  it('accepts a client, exchanges messages both ways, and removes its socket file on close', async () => {
    const path = join(dir, 'zds.sock');
    const server = SeqpacketServer.listen(path);
    open.push(server);
    const connection = once(server, 'connection') as Promise<[SeqpacketSocket]>;
    const client = SeqpacketSocket.connect(path);
    open.push(client);
    const [conn] = await connection;
    open.push(conn);

    const atServer = nextMessages(conn, 1);
    client.send(Buffer.from('hello'));
    expect((await atServer)[0]?.data.toString()).toBe('hello');
    const atClient = nextMessages(client, 1);
    conn.send(Buffer.from('ack'));
    expect((await atClient)[0]?.data.toString()).toBe('ack');

    const clientClosed = once(client, 'close');
    conn.close();
    await clientClosed;

    server.close();
    await once(server, 'close');
    expect(existsSync(path)).toBe(false);
  });

  it('reports ENOENT / ECONNREFUSED on connect, and EADDRINUSE unless removeExisting', () => {
    const path = join(dir, 'busy.sock');
    expect(() => SeqpacketSocket.connect(join(dir, 'missing.sock'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    const first = SeqpacketServer.listen(path);
    open.push(first);
    expect(() => SeqpacketServer.listen(path)).toThrow(expect.objectContaining({ code: 'EADDRINUSE', syscall: 'bind' }));
    // A replaced server must not remove its successor's socket file when it closes.
    const second = SeqpacketServer.listen(path, { removeExisting: true });
    open.push(second);
    first.close();
    expect(existsSync(path)).toBe(true);
    second.close();
    expect(existsSync(path)).toBe(false);
    expect(() => SeqpacketSocket.connect(path)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});

describe.skipIf(!isRoot)(`SCM_RIGHTS with a pod-like netns (${ROOT_REASON})`, () => {
  let ns: ThrowawayNetns | undefined;
  beforeAll(() => {
    ns = createThrowawayNetns();
  });
  afterAll(() => ns?.remove());

  it('hands over a netns fd that still enters the same namespace', async () => {
    const [agent, ztunnel] = pair();
    const nsFd = openNetns(ns!.path);
    fds.push(nsFd);
    const received = nextMessages(ztunnel, 1);
    agent.send(Buffer.from('AddWorkload'), [nsFd]);
    const [msg] = await received;
    const got = msg!.fds[0]!;
    const expected = `net:[${fstatSync(nsFd).ino}]`;
    expect(fstatSync(got).ino).toBe(fstatSync(nsFd).ino);
    expect(readlinkSync(`/proc/self/fd/${got}`)).toBe(readlinkSync(`/proc/self/fd/${nsFd}`));
    expect(isNetns(got)).toBe(true);
    expect(runInNetns(got, () => readlinkSync('/proc/thread-self/ns/net'))).toBe(expected);
  });
});
