// Fuzzing the node agent's ZDS server with scripted ztunnels over real SOCK_SEQPACKET sockets: a
// hello and answers that are random bytes or mutations of real ones, sometimes carrying fds. Each
// connection either completes its snapshot or is closed with a PROTOCOL error (the event the agent
// counts); nothing throws or hangs, and a well-behaved ztunnel is served afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzBudget, fuzzParams, wireInput } from '../fuzz/fuzz.ts';
import { pollUntil } from '../hbone/test-fixtures.ts';
import { closeFd, openNetns, SeqpacketSocket } from '../netns/index.ts';
import { checkRequestDatagram, encodeAck, encodeHello, ZdsError, ZdsServer, type ZdsSnapshotEntry } from './index.ts';

const budget = fuzzBudget(0.5);

let dir = '';
let ownNetns = -1;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'amt-zds-server-fuzz-'));
  ownNetns = openNetns('/proc/self/ns/net');
});
afterAll(() => {
  closeFd(ownNetns);
  rmSync(dir, { recursive: true, force: true });
});

const SEEDS = [encodeHello(), encodeAck(), encodeAck('failed to start proxy: netns gone')];

/** A ztunnel that says `hello`, then answers the i-th request with answers[i] (then valid Acks). */
function scriptedZtunnel(path: string, hello: Buffer, answers: { data: Buffer; withFd: boolean }[], fd: number): { socket: SeqpacketSocket; requests: number } {
  const socket = SeqpacketSocket.connect(path);
  const z = { socket, requests: 0 };
  socket.on('error', () => undefined);
  socket.on('message', (m) => {
    for (const f of m.fds) closeFd(f);
    // What the agent sends must always be a well-formed request, whatever we answered before.
    expect(checkRequestDatagram(m.data, m.fds.length).ok).toBe(true);
    const a = answers[z.requests++] ?? { data: encodeAck(), withFd: false };
    if (!socket.closed) socket.send(a.data, a.withFd ? [fd] : []);
  });
  socket.send(hello);
  return z;
}

describe('ZdsServer under fuzzed ztunnel hellos and answers', () => {
  it('completes or closes each connection with a counted PROTOCOL error, and serves a good ztunnel after', async () => {
    const path = join(dir, 'ztunnel.sock');
    const pods: ZdsSnapshotEntry[] = [
      { uid: 'u1', info: { name: 'a', namespace: 'default', serviceAccount: 'sa' }, netnsFd: ownNetns },
      { uid: 'u2', info: { name: 'b', namespace: 'default', serviceAccount: 'sa' } },
    ];
    const server = ZdsServer.listen({ path, snapshot: () => pods, maxConnectionsPerSecond: 1000, helloTimeoutMs: 5000, ackTimeoutMs: 5000 });
    const ended = new Map<number, ZdsError | undefined>();
    const snapshotSent = new Set<number>();
    server.on('disconnected', (id, err) => ended.set(id, err));
    server.on('snapshotSent', (id) => snapshotSent.add(id));
    let nextId = 1;
    let protocolErrors = 0;
    try {
      const message = fc.tuple(wireInput(SEEDS, 1200), fc.boolean()).map(([data, withFd]) => ({ data, withFd: withFd && data.length % 5 === 0 }));
      await fc.assert(
        fc.asyncProperty(fc.oneof(wireInput(SEEDS, 1200), fc.constant(encodeHello())), fc.array(message, { maxLength: 4 }), async (hello, answers) => {
          const id = nextId++;
          const z = scriptedZtunnel(path, hello, answers, ownNetns);
          try {
            await pollUntil(() => snapshotSent.has(id) || ended.has(id), `connection ${id} to finish its snapshot or be closed`, 8000);
          } finally {
            z.socket.close();
          }
          await pollUntil(() => ended.has(id), `connection ${id} to be released`, 5000);
          const err = ended.get(id);
          if (!snapshotSent.has(id)) {
            // Refused: a typed error that names what was wrong (the agent counts these).
            expect(err).toBeInstanceOf(ZdsError);
            expect(err!.code).toBe('PROTOCOL');
            protocolErrors++;
          }
          expect(server.connectionCount).toBe(0);
        }),
        fuzzParams(budget, { hangMs: 15_000 }),
      );
      expect(protocolErrors).toBeGreaterThan(0);
      // A well-behaved ztunnel still gets the whole snapshot, then an add.
      const id = nextId++;
      const good = scriptedZtunnel(path, encodeHello(), [], ownNetns);
      try {
        await pollUntil(() => snapshotSent.has(id), 'the good ztunnel to get its snapshot');
        await server.addWorkload('u3', { name: 'c', namespace: 'default', serviceAccount: 'sa' }, ownNetns);
        expect(good.requests).toBe(pods.length + 2); // the snapshot, SnapshotSent, the add
      } finally {
        good.socket.close();
      }
    } finally {
      server.close();
    }
  }, budget.testTimeoutMs + 30_000);
});
