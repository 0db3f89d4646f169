// Fuzzing what the node agent counts of a misbehaving ztunnel: scripted ztunnels send fuzzed hellos
// and answers (random bytes, mutations of real ones) to a real ZdsServer linked to the agent's
// metrics. Every connection the server closes for a protocol error moves
// istio_cni_ztunnel_protocol_errors_total by one, and nothing else does.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzBudget, fuzzParams, wireInput } from '../../lib/fuzz/fuzz.ts';
import { pollUntil } from '../../lib/hbone/test-fixtures.ts';
import { Registry } from '../../lib/metrics/registry.ts';
import { closeFd, SeqpacketSocket } from '../../lib/netns/index.ts';
import { encodeAck, encodeHello, ZdsServer, type ZdsError } from '../../lib/zds/index.ts';
import { MeshDataplane } from './dataplane.ts';
import { fakeDataplaneDeps, quietLog } from './test-fakes.ts';
import { linkZtunnel } from './ztunnel-link.ts';

const budget = fuzzBudget(0.3);

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'amt-ztunnel-link-fuzz-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SEEDS = [encodeHello(), encodeAck(), encodeAck('no such pod')];

describe('node agent ZDS protocol error counting under fuzzing', () => {
  it('counts each connection closed for a protocol error, and only those', async () => {
    const path = join(dir, 'ztunnel.sock');
    const { deps } = fakeDataplaneDeps();
    const dataplane = new MeshDataplane(deps);
    const zds = ZdsServer.listen({ path, snapshot: () => dataplane.snapshot(), maxConnectionsPerSecond: 1000, log: quietLog() });
    const registry = new Registry();
    linkZtunnel(zds, dataplane, registry, quietLog());
    const ended = new Map<number, ZdsError | undefined>();
    zds.on('disconnected', (id, err) => ended.set(id, err));
    const snapshotDone = new Set<number>();
    zds.on('snapshotSent', (id) => snapshotDone.add(id));
    // An unlabelled counter has no sample line until its first increment: absent is 0 (the run's
    // last check, protocolErrors > 0 with every count equal, proves the line does appear).
    const counted = (): number => Number(/^istio_cni_ztunnel_protocol_errors_total (\d+)$/m.exec(registry.render())?.[1] ?? '0');
    let nextId = 1;
    let protocolErrors = 0;
    try {
      await fc.assert(
        fc.asyncProperty(wireInput(SEEDS, 1200), wireInput(SEEDS, 1200), async (hello, answer) => {
          const id = nextId++;
          const socket = SeqpacketSocket.connect(path);
          socket.on('error', () => undefined);
          // The snapshot is empty: the only request is SnapshotSent, answered with `answer`.
          socket.on('message', (m) => {
            for (const fd of m.fds) closeFd(fd);
            if (!socket.closed) socket.send(answer);
          });
          socket.send(hello);
          // Closed by the server for a protocol error, or through its snapshot.
          await pollUntil(() => ended.has(id) || snapshotDone.has(id), `connection ${id} to settle`, 8000);
          socket.close();
          await pollUntil(() => ended.has(id), `connection ${id} to end`, 5000);
          if (ended.get(id)?.code === 'PROTOCOL') protocolErrors++;
          expect(counted()).toBe(protocolErrors);
        }),
        fuzzParams(budget, { hangMs: 15_000 }),
      );
      expect(protocolErrors).toBeGreaterThan(0);
    } finally {
      zds.close();
      dataplane.close();
    }
  }, budget.testTimeoutMs + 30_000);
});
