// ZdsServer against a scripted ztunnel on a real SOCK_SEQPACKET socket in a temp dir: hello, the
// snapshot with netns fds, one request at a time, routing of adds and deletes across connections,
// and every way a connection ends (NACK, timeouts, protocol errors, server close).
import { chmodSync, chownSync, fstatSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil, rejectionOf } from '../hbone/test-fixtures.ts';
import { closeFd, getPeerCredentials, isNetns, openNetns, SeqpacketSocket } from '../netns/index.ts';
import { isRoot } from '../netns/throwaway-netns.ts';
import { connectAs, UID_REASON } from './test-peer.ts';
import { decodeRequest, encodeAck, encodeHello, ZdsServer, type ZdsPeerRefusal, type ZdsRequest, type ZdsServerOptions, type ZdsSnapshotEntry } from './index.ts';

/** Plays ztunnel: records each request with its fds and answers as `answer` says (null: stays silent). */
class FakeZtunnel {
  readonly socket: SeqpacketSocket;
  readonly requests: { req: ZdsRequest; fds: number[] }[] = [];
  answer: (req: ZdsRequest) => string | null = () => '';
  closed = false;

  constructor(path: string) {
    this.socket = SeqpacketSocket.connect(path);
    this.socket.on('message', (m) => {
      received.push(...m.fds);
      const r = decodeRequest(m.data);
      if (!r.ok) throw r.error;
      this.requests.push({ req: r.value, fds: m.fds });
      const a = this.answer(r.value);
      if (a !== null && !this.socket.closed) this.socket.send(encodeAck(a));
    });
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => {
      this.closed = true;
    });
    peers.push(this);
  }

  hello(): this {
    this.socket.send(encodeHello());
    return this;
  }

  kinds(): string[] {
    return this.requests.map(({ req }) => (req.kind === 'snapshotSent' ? 'snapshotSent' : `${req.kind}:${req.uid}`));
  }
}

const info = (name: string) => ({ name, namespace: 'default', serviceAccount: 'sa' });

let dir = '';
let n = 0;
const peers: FakeZtunnel[] = [];
const servers: ZdsServer[] = [];
const received: number[] = [];
let ownNetns = -1;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'amt-zds-server-'));
  ownNetns = openNetns('/proc/self/ns/net');
});
afterAll(() => {
  closeFd(ownNetns);
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  for (const p of peers.splice(0)) p.socket.close();
  for (const s of servers.splice(0)) s.close();
  for (const fd of received.splice(0)) closeFd(fd);
});

function listen(opts: Partial<ZdsServerOptions> & { pods?: Map<string, ZdsSnapshotEntry> } = {}): { server: ZdsServer; path: string } {
  const path = join(dir, `zds-${++n}.sock`);
  const pods = opts.pods ?? new Map<string, ZdsSnapshotEntry>();
  const server = ZdsServer.listen({ path, snapshot: () => pods.values(), ...opts });
  servers.push(server);
  return { server, path };
}

describe('ZdsServer snapshot', () => {
  it('after the hello sends Add (with the netns fd) or Keep per pod, then SnapshotSent, one at a time', async () => {
    const pods = new Map<string, ZdsSnapshotEntry>([
      ['u1', { uid: 'u1', info: info('a'), netnsFd: ownNetns }],
      ['u2', { uid: 'u2', info: info('b') }],
    ]);
    const { server, path } = listen({ pods });
    const snapshots: number[] = [];
    server.on('snapshotSent', (id) => snapshots.push(id));
    let outstanding = 0;
    let maxOutstanding = 0;
    const z = new FakeZtunnel(path);
    // Answer asynchronously so a second request sent early would show up as two outstanding.
    z.answer = () => {
      outstanding++;
      maxOutstanding = Math.max(maxOutstanding, outstanding);
      setTimeout(() => {
        outstanding--;
        z.socket.send(encodeAck());
      }, 10);
      return null;
    };
    z.hello();
    await pollUntil(() => snapshots.length === 1, 'snapshot acknowledged');
    expect(z.kinds()).toEqual(['add:u1', 'keep:u2', 'snapshotSent']);
    expect(maxOutstanding).toBe(1);
    const [add, keep, done] = z.requests;
    expect(add?.req).toEqual({ kind: 'add', uid: 'u1', info: info('a') });
    expect(add?.fds).toHaveLength(1);
    expect(isNetns(add!.fds[0]!)).toBe(true);
    expect(fstatSync(add!.fds[0]!).ino).toBe(fstatSync(ownNetns).ino);
    expect(keep?.fds).toEqual([]);
    expect(done?.fds).toEqual([]);
    expect(server.connectionCount).toBe(1);
  });

  it('sends nothing before the hello, and closes a connection whose hello does not come in time', async () => {
    const { server, path } = listen({ pods: new Map([['u1', { uid: 'u1', info: info('a'), netnsFd: ownNetns }]]), helloTimeoutMs: 100 });
    const gone: string[] = [];
    server.on('disconnected', (_id, err) => gone.push(err?.code ?? 'none'));
    const z = new FakeZtunnel(path);
    await pollUntil(() => z.closed, 'connection closed by the server');
    expect(z.requests).toEqual([]);
    expect(gone).toEqual(['HELLO_TIMEOUT']);
  });

  it('closes a connection whose first message is not a hello', async () => {
    const { server, path } = listen();
    const gone: string[] = [];
    server.on('disconnected', (_id, err) => gone.push(err?.code ?? 'none'));
    const z = new FakeZtunnel(path);
    z.socket.send(Buffer.from([0x0a, 0x05, 0x01]));
    await pollUntil(() => z.closed, 'connection closed');
    expect(gone).toEqual(['PROTOCOL']);
  });

  it('goes on with the snapshot after an error answer, and reports it', async () => {
    const pods = new Map<string, ZdsSnapshotEntry>([
      ['u1', { uid: 'u1', info: info('a'), netnsFd: ownNetns }],
      ['u2', { uid: 'u2', info: info('b'), netnsFd: ownNetns }],
    ]);
    const { server, path } = listen({ pods });
    const nacks: string[] = [];
    server.on('nack', (_id, req, error) => nacks.push(`${req.kind}:${'uid' in req ? req.uid : ''}:${error}`));
    let acked: readonly string[] | undefined;
    server.on('snapshotSent', (_id, uids) => {
      acked = uids;
    });
    const z = new FakeZtunnel(path);
    z.answer = (req) => (req.kind === 'add' && req.uid === 'u1' ? 'port in use' : '');
    z.hello();
    await pollUntil(() => acked !== undefined, 'snapshot done');
    expect(z.kinds()).toEqual(['add:u1', 'add:u2', 'snapshotSent']);
    expect(nacks).toEqual(['add:u1:port in use']);
    // Only what ztunnel accepted counts as served: the NACKed pod is not in the list.
    expect(acked).toEqual(['u2']);
  });
});

describe('ZdsServer updates', () => {
  it('rejects an add with NO_CONNECTION when no ztunnel is connected; a delete then succeeds trivially', async () => {
    const { server } = listen();
    expect(await rejectionOf(server.addWorkload('u1', info('a'), ownNetns))).toMatchObject({ code: 'NO_CONNECTION' });
    await server.delWorkload('u1');
  });

  it('queues an add made during the snapshot behind SnapshotSent', async () => {
    const pods = new Map<string, ZdsSnapshotEntry>([['u1', { uid: 'u1', info: info('a'), netnsFd: ownNetns }]]);
    const { server, path } = listen({ pods });
    const z = new FakeZtunnel(path);
    let connected = false;
    server.on('connected', () => {
      connected = true;
    });
    z.hello();
    await pollUntil(() => connected, 'hello seen');
    await server.addWorkload('u9', info('z'), ownNetns);
    expect(z.kinds()).toEqual(['add:u1', 'snapshotSent', 'add:u9']);
    expect(z.requests[2]?.fds).toHaveLength(1);
  });

  it('sends adds to the newest connection only and deletes to all', async () => {
    const { server, path } = listen({ maxConnectionsPerSecond: 1000 });
    let snapshots = 0;
    server.on('snapshotSent', () => snapshots++);
    const old = new FakeZtunnel(path).hello();
    await pollUntil(() => snapshots === 1, 'first snapshot');
    const fresh = new FakeZtunnel(path).hello();
    await pollUntil(() => snapshots === 2, 'second snapshot');
    await server.addWorkload('u1', info('a'), ownNetns);
    await server.delWorkload('u0');
    expect(old.kinds()).toEqual(['snapshotSent', 'del:u0']);
    expect(fresh.kinds()).toEqual(['snapshotSent', 'add:u1', 'del:u0']);
  });

  it('rejects with NACK carrying ztunnel’s error string', async () => {
    const { server, path } = listen();
    let ready = false;
    server.on('snapshotSent', () => {
      ready = true;
    });
    const z = new FakeZtunnel(path);
    z.answer = (req) => (req.kind === 'add' ? 'failed to start proxy: EADDRINUSE' : '');
    z.hello();
    await pollUntil(() => ready, 'snapshot done');
    const err = await rejectionOf(server.addWorkload('u1', info('a'), ownNetns));
    expect(err).toMatchObject({ code: 'NACK', ackError: 'failed to start proxy: EADDRINUSE' });
    // The connection is fine: the next request goes through.
    await server.delWorkload('u1');
    expect(z.closed).toBe(false);
  });

  it('fails the request with ACK_TIMEOUT and drops the connection when ztunnel stays silent', async () => {
    const { server, path } = listen({ ackTimeoutMs: 100 });
    let ready = false;
    server.on('snapshotSent', () => {
      ready = true;
    });
    const z = new FakeZtunnel(path);
    z.hello();
    await pollUntil(() => ready, 'snapshot done');
    z.answer = () => null;
    const inFlight = rejectionOf(server.delWorkload('u2'));
    const queued = rejectionOf(server.addWorkload('u1', info('a'), ownNetns));
    expect(await inFlight).toMatchObject({ code: 'ACK_TIMEOUT' });
    expect(await queued).toMatchObject({ code: 'CONNECTION_CLOSED' });
    await pollUntil(() => z.closed, 'connection closed');
    expect(server.connectionCount).toBe(0);
  });

  it('drops a connection that sends an unsolicited message', async () => {
    const { server, path } = listen();
    const gone: string[] = [];
    server.on('disconnected', (_id, err) => gone.push(err?.code ?? 'none'));
    let ready = false;
    server.on('snapshotSent', () => {
      ready = true;
    });
    const z = new FakeZtunnel(path).hello();
    await pollUntil(() => ready, 'snapshot done');
    z.socket.send(encodeAck());
    await pollUntil(() => z.closed, 'connection closed');
    expect(gone).toEqual(['PROTOCOL']);
  });

  it('refuses an add too large for one datagram without touching the connection', async () => {
    const { server, path } = listen();
    let ready = false;
    server.on('snapshotSent', () => {
      ready = true;
    });
    const z = new FakeZtunnel(path).hello();
    await pollUntil(() => ready, 'snapshot done');
    expect(await rejectionOf(server.addWorkload('u1', { ...info('a'), name: 'n'.repeat(1100) }, ownNetns))).toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    expect(await rejectionOf(server.addWorkload('u2', info('b'), 1_000_000))).toMatchObject({ code: 'BAD_FD' });
    await server.addWorkload('u3', info('c'), ownNetns);
    expect(z.kinds()).toEqual(['snapshotSent', 'add:u3']);
  });
});

describe('ZdsServer lifecycle', () => {
  it('starts at most maxConnectionsPerSecond connections per second', async () => {
    const { server, path } = listen({ maxConnectionsPerSecond: 4 });
    const readyAt: number[] = [];
    server.on('snapshotSent', () => readyAt.push(Date.now()));
    new FakeZtunnel(path).hello();
    new FakeZtunnel(path).hello();
    await pollUntil(() => readyAt.length === 2, 'both snapshots');
    // Starts are 250 ms apart; the margin absorbs how long each snapshot took.
    expect(readyAt[1]! - readyAt[0]!).toBeGreaterThanOrEqual(150);
  });

  it('close() fails pending requests, closes connections and removes the socket file', async () => {
    const { server, path } = listen();
    let ready = false;
    server.on('snapshotSent', () => {
      ready = true;
    });
    const z = new FakeZtunnel(path).hello();
    await pollUntil(() => ready, 'snapshot done');
    z.answer = () => null;
    const pending = server.addWorkload('u1', info('a'), ownNetns);
    await pollUntil(() => z.requests.length === 2, 'add received');
    server.close();
    expect(await rejectionOf(pending)).toMatchObject({ code: 'SERVER_CLOSED' });
    await pollUntil(() => z.closed, 'ztunnel side closed');
    expect(readdirSync(dir)).not.toContain(path.split('/').at(-1));
    expect(await rejectionOf(server.addWorkload('u2', info('b'), ownNetns))).toMatchObject({ code: 'SERVER_CLOSED' });
  });
});

describe('ZdsServer socket access', () => {
  it('creates the socket 0600 whatever the umask', () => {
    const old = process.umask(0);
    try {
      const { path } = listen();
      expect(statSync(path).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(old);
    }
  });

  it('accepts a peer with an allowed uid, as the kernel reports it', async () => {
    const { server, path } = listen({ allowedPeerUids: [process.getuid!()] });
    const refused: ZdsPeerRefusal[] = [];
    server.on('peerRefused', (r) => refused.push(r));
    let ready = false;
    server.on('snapshotSent', () => {
      ready = true;
    });
    const z = new FakeZtunnel(path).hello();
    expect(getPeerCredentials(z.socket.fd)).toMatchObject({ pid: process.pid, uid: process.getuid!() });
    await pollUntil(() => ready, 'snapshot done');
    expect(refused).toEqual([]);
  });

  it.skipIf(!isRoot)(`refuses a peer of another uid before sending anything, and counts it (${UID_REASON})`, async () => {
    const pods = new Map<string, ZdsSnapshotEntry>([['u1', { uid: 'u1', info: info('a'), netnsFd: ownNetns }]]);
    const { server, path } = listen({ pods });
    const refused: ZdsPeerRefusal[] = [];
    server.on('peerRefused', (r) => refused.push(r));
    // Let uid 65534 reach the socket at all, so only the credential check stands in its way.
    chmodSync(dir, 0o711);
    chownSync(path, 65534, 65534);
    expect(await connectAs(65534, path)).toBe('closed 0');
    expect(refused).toHaveLength(1);
    expect(refused[0]?.peer?.uid).toBe(65534);
    expect(refused[0]?.reason).toMatch(/uid 65534 is not allowed/);
    expect(server.connectionCount).toBe(0);
    // Root still gets its snapshot on the same socket.
    let acked: readonly string[] | undefined;
    server.on('snapshotSent', (_id, uids) => {
      acked = uids;
    });
    new FakeZtunnel(path).hello();
    await pollUntil(() => acked !== undefined, 'root snapshot');
    expect(acked).toEqual(['u1']);
    expect(refused).toHaveLength(1);
  });
});
