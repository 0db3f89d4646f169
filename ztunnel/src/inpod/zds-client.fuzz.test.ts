// Fuzzing ztunnel's ZDS client with a scripted node agent over real SOCK_SEQPACKET sockets: random
// datagrams and mutations of real requests, carrying no fd, a netns fd, a non-netns fd or two. Every
// datagram the client reads is answered with exactly one Ack, every refusal is counted, no received
// fd is leaked, and afterwards a real agent (lib/zds ZdsServer) still hands it a pod.
import { openSync, closeSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzBudget, fuzzParams, wireInput } from '../../../lib/fuzz/fuzz.ts';
import { pollUntil } from '../../../lib/hbone/test-fixtures.ts';
import { closeFd, openNetns, SeqpacketServer, type SeqpacketSocket } from '../../../lib/netns/index.ts';
import { decodeAck, encodeRequest, ZdsServer, type ZdsWorkloadInfo } from '../../../lib/zds/index.ts';
import { ZdsClient, type ZdsConsumer } from './zds-client.ts';

const budget = fuzzBudget(0.5);

/** Owns the fds it is given and closes them on delete or at the end, as the workload manager does. */
class FdConsumer implements ZdsConsumer {
  readonly fds = new Map<string, number>();
  adds = 0;

  onAdd(uid: string, _info: ZdsWorkloadInfo, netnsFd: number): void {
    this.adds++;
    const old = this.fds.get(uid);
    if (old !== undefined) closeFd(old);
    this.fds.set(uid, netnsFd);
  }

  onDel(uid: string): void {
    const fd = this.fds.get(uid);
    if (fd !== undefined) closeFd(fd);
    this.fds.delete(uid);
  }

  onSnapshotDone(): void {}

  closeAll(): void {
    for (const fd of this.fds.values()) closeFd(fd);
    this.fds.clear();
  }
}

interface AgentConn {
  socket: SeqpacketSocket;
  hello: boolean;
  acks: string[];
  closed: boolean;
}

/** A node agent that sends whatever the test says and records the answers per connection. */
function scriptedAgent(path: string): { server: SeqpacketServer; conns: AgentConn[]; close(): void } {
  const server = SeqpacketServer.listen(path, { removeExisting: true });
  const conns: AgentConn[] = [];
  server.on('connection', (socket) => {
    const c: AgentConn = { socket, hello: false, acks: [], closed: false };
    conns.push(c);
    socket.on('message', (m) => {
      for (const fd of m.fds) closeFd(fd);
      if (!c.hello) {
        c.hello = true;
        return;
      }
      const a = decodeAck(m.data);
      // ztunnel only ever sends Acks after its hello; anything else fails the property below.
      c.acks.push(a.ok ? a.value.error : `<not an ack: ${a.error.message}>`);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      c.closed = true;
    });
  });
  return {
    server,
    conns,
    close() {
      server.close();
      for (const c of conns) c.socket.close();
    },
  };
}

/** Fds of this process that are network namespaces or /dev/null: what the fuzzing hands out. */
function fdCensus(): { netns: number; devNull: number } {
  let netns = 0;
  let devNull = 0;
  for (const e of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${e}`);
    } catch {
      continue;
    }
    if (target.startsWith('net:')) netns++;
    else if (target === '/dev/null') devNull++;
  }
  return { netns, devNull };
}

const info: ZdsWorkloadInfo = { name: 'echo-1', namespace: 'default', serviceAccount: 'echo' };
const SEEDS = [
  encodeRequest({ kind: 'add', uid: 'u-add', info }),
  encodeRequest({ kind: 'keep', uid: 'u-keep' }),
  encodeRequest({ kind: 'del', uid: 'u-add' }),
  encodeRequest({ kind: 'snapshotSent' }),
];

let dir = '';
let ownNetns = -1;
let devNull = -1;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'amt-zds-fuzz-'));
  ownNetns = openNetns('/proc/self/ns/net');
  devNull = openSync('/dev/null', 'r');
});
afterAll(() => {
  closeFd(ownNetns);
  closeSync(devNull);
  rmSync(dir, { recursive: true, force: true });
});

describe('ZdsClient under fuzzed datagrams', () => {
  it('answers each datagram once, counts refusals, leaks no fd, and still takes a pod from a real agent', async () => {
    const path = join(dir, 'ztunnel.sock');
    const agent = scriptedAgent(path);
    const consumer = new FdConsumer();
    const client = new ZdsClient({ path, consumer, backoff: { initialMs: 1, maxMs: 5 } });
    let rejectedEvents = 0;
    client.on('rejected', () => rejectedEvents++);
    const before = fdCensus();
    client.start();
    let answered = 0;
    try {
      const fdChoice = fc.constantFrom<'none' | 'netns' | 'other' | 'two'>('none', 'netns', 'netns', 'other', 'two');
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(wireInput(SEEDS, 1500), fdChoice), { minLength: 1, maxLength: 6 }), async (datagrams) => {
          for (const [data, fds] of datagrams) {
            // The client reconnects after a protocol error: send on its live connection.
            await pollUntil(() => agent.conns.at(-1)?.hello === true && !agent.conns.at(-1)!.closed, 'a connection with its hello', 5000);
            const conn = agent.conns.at(-1)!;
            const acksBefore = conn.acks.length;
            const stats = client.stats;
            const attach = fds === 'none' ? [] : fds === 'netns' ? [ownNetns] : fds === 'other' ? [devNull] : [ownNetns, devNull];
            conn.socket.send(data, attach);
            // Answered, or the connection closed on a protocol error (after answering what it read).
            await pollUntil(() => conn.acks.length > acksBefore || conn.closed, 'an answer', 5000);
            if (conn.acks.length === acksBefore) continue;
            expect(conn.acks.length).toBe(acksBefore + 1);
            answered++;
            const ack = conn.acks.at(-1)!;
            expect(ack).not.toMatch(/^<not an ack/);
            const after = client.stats;
            expect(after.messages).toBe(stats.messages + 1);
            const failures = after.rejected - stats.rejected + (after.consumerErrors - stats.consumerErrors);
            // An error Ack is a counted refusal (or consumer failure); a success Ack counts nothing.
            expect(failures).toBe(ack === '' ? 0 : 1);
          }
        }),
        fuzzParams(budget, { hangMs: 10_000 }),
      );
      expect(answered).toBeGreaterThan(0);
      expect(rejectedEvents).toBe(client.stats.rejected);
      expect(client.stats.rejected).toBeGreaterThan(0);

      // A real agent replaces the scripted one; the client reconnects and takes a pod with its fd.
      agent.close();
      const real = ZdsServer.listen({ path, snapshot: () => [], maxConnectionsPerSecond: 1000 });
      let snapshotDone = false;
      real.on('snapshotSent', () => (snapshotDone = true));
      try {
        await pollUntil(() => snapshotDone && client.ready, 'the snapshot from the real agent', 10_000);
        await real.addWorkload('after-fuzz', info, ownNetns);
        expect(consumer.fds.has('after-fuzz')).toBe(true);
      } finally {
        real.close();
      }
    } finally {
      await client.close();
      agent.close();
      consumer.closeAll();
    }
    // Every fd the fuzzing sent was closed by the client or by the consumer that took it.
    await pollUntil(() => {
      const now = fdCensus();
      return now.netns === before.netns && now.devNull === before.devNull;
    }, 'received fds closed', 5000);
  }, budget.testTimeoutMs + 30_000);
});
