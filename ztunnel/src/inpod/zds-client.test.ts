// ZdsClient against the real agent-side ZdsServer (lib/zds) and, for misbehaviour, a raw scripted
// agent, over SOCK_SEQPACKET sockets in a temp dir. Netns fds are this process's own
// (/proc/self/ns/net), so no root is needed.
import { fstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil, rejectionOf } from '../../../lib/hbone/test-fixtures.ts';
import { closeFd, isNetns, openNetns, SeqpacketServer, SeqpacketSocket, type SeqpacketMessage } from '../../../lib/netns/index.ts';
import { decodeAck, decodeHello, encodeRequest, ZdsServer, type ZdsRequest, type ZdsSnapshotEntry, type ZdsWorkloadInfo } from '../../../lib/zds/index.ts';
import { ZdsClient, type ZdsConsumer } from './zds-client.ts';

/** Records calls; owns (and closes) the fds it is given, as a real consumer must. */
class RecordingConsumer implements ZdsConsumer {
  readonly calls: string[] = [];
  readonly fds = new Map<string, number>();
  failAdd: string | undefined;

  onAdd(uid: string, info: ZdsWorkloadInfo, netnsFd: number): void {
    this.calls.push(`add:${uid}:${info.namespace}/${info.name}`);
    const old = this.fds.get(uid);
    if (old !== undefined) closeFd(old);
    this.fds.delete(uid);
    if (this.failAdd) {
      closeFd(netnsFd);
      throw new Error(this.failAdd);
    }
    this.fds.set(uid, netnsFd);
  }

  onDel(uid: string): void {
    this.calls.push(`del:${uid}`);
    const fd = this.fds.get(uid);
    if (fd !== undefined) closeFd(fd);
    this.fds.delete(uid);
  }

  onSnapshotDone(): void {
    this.calls.push('snapshotDone');
  }

  closeAll(): void {
    for (const fd of this.fds.values()) closeFd(fd);
    this.fds.clear();
  }
}

/** A scripted node agent: records what ztunnel sends and sends whatever the test says. */
class RawAgent {
  readonly server: SeqpacketServer;
  readonly conns: SeqpacketSocket[] = [];
  readonly messages: { conn: number; data: Buffer }[] = [];

  constructor(path: string) {
    this.server = SeqpacketServer.listen(path, { removeExisting: true });
    this.server.on('connection', (s) => {
      const conn = this.conns.push(s) - 1;
      s.on('message', (m: SeqpacketMessage) => {
        for (const fd of m.fds) closeFd(fd);
        this.messages.push({ conn, data: m.data });
      });
      s.on('error', () => undefined);
    });
  }

  get last(): SeqpacketSocket {
    const c = this.conns.at(-1);
    if (!c) throw new Error('no connection');
    return c;
  }

  /** Ack errors received on connection `conn`, in order ('' = success). */
  acks(conn = this.conns.length - 1): string[] {
    return this.messages.filter((m) => m.conn === conn).slice(1).map((m) => {
      const a = decodeAck(m.data);
      if (!a.ok) throw a.error;
      return a.value.error;
    });
  }

  close(): void {
    this.server.close();
    for (const c of this.conns) c.close();
  }
}

const info = (name: string): ZdsWorkloadInfo => ({ name, namespace: 'default', serviceAccount: 'sa' });

let dir = '';
let n = 0;
let ownNetns = -1;
const cleanups: (() => unknown)[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'amt-zds-client-'));
  ownNetns = openNetns('/proc/self/ns/net');
});
afterAll(() => {
  closeFd(ownNetns);
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function socketPath(): string {
  return join(dir, `ztunnel-${++n}.sock`);
}

function client(path: string, consumer = new RecordingConsumer()): { client: ZdsClient; consumer: RecordingConsumer } {
  const c = new ZdsClient({ path, consumer, backoff: { initialMs: 5, maxMs: 40 } });
  cleanups.push(() => consumer.closeAll(), () => c.close());
  c.start();
  return { client: c, consumer };
}

function agentServer(path: string, pods: Map<string, ZdsSnapshotEntry>): ZdsServer {
  const s = ZdsServer.listen({ path, snapshot: () => pods.values(), maxConnectionsPerSecond: 1000 });
  cleanups.push(() => s.close());
  return s;
}

function rawAgent(path: string): RawAgent {
  const a = new RawAgent(path);
  cleanups.push(() => a.close());
  return a;
}

describe('ZdsClient with the node agent server', () => {
  it('says hello, applies the snapshot (Add with a netns fd, Keep), acks each message and becomes ready', async () => {
    const path = socketPath();
    const pods = new Map<string, ZdsSnapshotEntry>([
      ['u1', { uid: 'u1', info: info('a'), netnsFd: ownNetns }],
      ['u2', { uid: 'u2', info: info('b') }],
    ]);
    const server = agentServer(path, pods);
    const nacks: string[] = [];
    server.on('nack', (_id, _req, e) => nacks.push(e));
    let snapshotAcked = false;
    server.on('snapshotSent', () => {
      snapshotAcked = true;
    });
    const { client: c, consumer } = client(path);
    expect(c.ready).toBe(false);
    await pollUntil(() => snapshotAcked, 'snapshot acknowledged');
    expect(c.ready).toBe(true);
    expect(consumer.calls).toEqual(['add:u1:default/a', 'snapshotDone']);
    const fd = consumer.fds.get('u1')!;
    expect(isNetns(fd)).toBe(true);
    expect(fstatSync(fd).ino).toBe(fstatSync(ownNetns).ino);
    expect(nacks).toEqual([]);
    expect([...c.workloads].sort()).toEqual(['u1']);
    expect(c.stats).toMatchObject({ connects: 1, messages: 3, rejected: 0, snapshots: 1 });
  });

  it('applies adds and deletes after the snapshot, acking each', async () => {
    const path = socketPath();
    const server = agentServer(path, new Map());
    const { client: c, consumer } = client(path);
    await pollUntil(() => c.ready, 'ready');
    await server.addWorkload('u1', info('a'), ownNetns);
    expect(consumer.fds.has('u1')).toBe(true);
    await server.delWorkload('u1');
    expect(consumer.calls).toEqual(['snapshotDone', 'add:u1:default/a', 'del:u1']);
    expect(consumer.fds.has('u1')).toBe(false);
  });

  it('answers a consumer failure with an error ack and keeps the connection', async () => {
    const path = socketPath();
    const server = agentServer(path, new Map());
    const { client: c, consumer } = client(path);
    await pollUntil(() => c.ready, 'ready');
    consumer.failAdd = 'port 15001 in use';
    const err = await rejectionOf(server.addWorkload('u1', info('a'), ownNetns));
    expect(err).toMatchObject({ code: 'NACK' });
    expect((err as { ackError?: string }).ackError).toMatch(/failed to start proxy for u1: port 15001 in use/);
    consumer.failAdd = undefined;
    await server.addWorkload('u2', info('b'), ownNetns);
    expect(c.stats).toMatchObject({ connects: 1, consumerErrors: 1 });
  });

  it('reconnects after the agent restarts, gets the snapshot again and drops pods it no longer names', async () => {
    const path = socketPath();
    const pods = new Map<string, ZdsSnapshotEntry>([
      ['u1', { uid: 'u1', info: info('a'), netnsFd: ownNetns }],
      ['u2', { uid: 'u2', info: info('b'), netnsFd: ownNetns }],
    ]);
    const first = agentServer(path, pods);
    const { client: c, consumer } = client(path);
    let disconnected = 0;
    c.on('disconnected', () => disconnected++);
    await pollUntil(() => c.ready, 'first snapshot');
    first.close();
    await pollUntil(() => disconnected === 1, 'disconnect seen');
    expect(c.ready).toBe(false);
    // The restarted agent lost u1's netns (Keep), and u2 went away meanwhile; u3 is new.
    const again = new Map<string, ZdsSnapshotEntry>([
      ['u1', { uid: 'u1', info: info('a') }],
      ['u3', { uid: 'u3', info: info('c'), netnsFd: ownNetns }],
    ]);
    agentServer(path, again);
    await pollUntil(() => c.ready, 'second snapshot');
    expect(consumer.calls).toEqual(['add:u1:default/a', 'add:u2:default/b', 'snapshotDone', 'add:u3:default/c', 'del:u2', 'snapshotDone']);
    expect([...c.workloads].sort()).toEqual(['u1', 'u3']);
    expect(c.stats).toMatchObject({ connects: 2, disconnects: 1, snapshots: 2 });
  });

  it('keeps retrying until the agent appears', async () => {
    const path = socketPath();
    const { client: c } = client(path);
    await pollUntil(() => c.stats.connectFailures >= 3, 'a few failed attempts');
    expect(c.state).toBe('backoff');
    agentServer(path, new Map());
    await pollUntil(() => c.ready, 'ready once the agent listens');
  });
});

describe('ZdsClient with a misbehaving agent', () => {
  async function connected(): Promise<{ agent: RawAgent; c: ZdsClient; consumer: RecordingConsumer }> {
    const path = socketPath();
    const agent = rawAgent(path);
    const { client: c, consumer } = client(path);
    await pollUntil(() => agent.messages.length === 1, 'hello');
    const hello = decodeHello(agent.messages[0]!.data);
    expect(hello).toEqual({ ok: true, value: { version: 1 } });
    return { agent, c, consumer };
  }

  function send(agent: RawAgent, req: ZdsRequest | Buffer, fds: number[] = []): void {
    agent.last.send(Buffer.isBuffer(req) ? req : encodeRequest(req), fds);
  }

  it('answers garbage, empty and oversize datagrams with an error ack, counts them, and stays connected', async () => {
    const { agent, c } = await connected();
    const rejected: string[] = [];
    c.on('rejected', (e) => rejected.push(e.code));
    send(agent, Buffer.from([0xff, 0xff, 0xff]));
    send(agent, Buffer.alloc(0));
    send(agent, Buffer.alloc(2000, 0x0a));
    send(agent, { kind: 'snapshotSent' });
    await pollUntil(() => agent.acks().length === 4, 'four answers');
    const acks = agent.acks();
    expect(acks[0]).toMatch(/WorkloadRequest/);
    expect(acks[1]).toMatch(/no payload/);
    expect(acks[2]).toMatch(/2000 bytes > 1024/);
    expect(acks[3]).toBe('');
    expect(rejected).toEqual(['MALFORMED', 'MALFORMED', 'MESSAGE_TOO_LARGE']);
    expect(c.stats).toMatchObject({ connects: 1, rejected: 3, messages: 4 });
    expect(c.ready).toBe(true);
  });

  it('refuses an Add without an fd', async () => {
    const { agent, consumer } = await connected();
    send(agent, { kind: 'add', uid: 'u1', info: info('a') });
    await pollUntil(() => agent.acks().length === 1, 'answer');
    expect(agent.acks()[0]).toMatch(/no netns fd/);
    expect(consumer.calls).toEqual([]);
  });

  it('closes an fd that came with a message other than Add', async () => {
    const { agent } = await connected();
    const [probe, probePeer] = SeqpacketSocket.pair();
    cleanups.push(() => probePeer.close());
    send(agent, { kind: 'del', uid: 'u1' }, [probe.fd]);
    probe.close();
    // The peer sees EOF only once every copy of `probe` is closed, the one ztunnel received included.
    await pollUntil(() => probePeer.closed, 'received fd closed');
    await pollUntil(() => agent.acks().length === 1, 'answer');
    expect(agent.acks()[0]).toMatch(/fd\(s\) attached to a message that takes none/);
  });

  it('closes the fd of an Add whose fd is not a network namespace, and all fds of an Add with two', async () => {
    const { agent, consumer } = await connected();
    const [probe, probePeer] = SeqpacketSocket.pair();
    cleanups.push(() => probePeer.close());
    send(agent, { kind: 'add', uid: 'u1', info: info('a') }, [probe.fd]);
    const [probe2, probe2Peer] = SeqpacketSocket.pair();
    cleanups.push(() => probe2Peer.close());
    send(agent, { kind: 'add', uid: 'u2', info: info('b') }, [probe2.fd, ownNetns]);
    probe.close();
    probe2.close();
    await pollUntil(() => probePeer.closed && probe2Peer.closed, 'received fds closed');
    await pollUntil(() => agent.acks().length === 2, 'answers');
    expect(agent.acks()[0]).toMatch(/not a network namespace/);
    expect(agent.acks()[1]).toMatch(/2 fds attached, expected 1/);
    expect(consumer.calls).toEqual([]);
  });

  it('treats Keep after SnapshotSent as a protocol error: error ack, then a new connection and snapshot', async () => {
    const { agent, c } = await connected();
    send(agent, { kind: 'snapshotSent' });
    await pollUntil(() => c.ready, 'ready');
    send(agent, { kind: 'keep', uid: 'u1' });
    await pollUntil(() => agent.conns.length === 2, 'reconnected');
    expect(agent.acks(0)).toEqual(['', 'KeepWorkload u1 after SnapshotSent']);
    expect(c.ready).toBe(false);
    await pollUntil(() => agent.messages.some((m) => m.conn === 1), 'hello on the new connection');
    expect(decodeHello(agent.messages.find((m) => m.conn === 1)!.data).ok).toBe(true);
  });
});
