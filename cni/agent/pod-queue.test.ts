import { describe, expect, it } from 'vitest';
import { PodQueue } from './pod-queue.ts';

/** A task that records its start and end and finishes when released. */
function gate(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  return {
    release: () => release(),
    task: async () => {
      log.push(`start ${name}`);
      await done;
      log.push(`end ${name}`);
    },
  };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('PodQueue', () => {
  it('runs one pod’s tasks in order, other pods’ tasks beside them', async () => {
    const q = new PodQueue(4);
    const log: string[] = [];
    const a1 = gate(log, 'a1');
    const a2 = gate(log, 'a2');
    const b1 = gate(log, 'b1');
    const runs = [q.run('a', a1.task), q.run('a', a2.task), q.run('b', b1.task)];
    await settle();
    expect(log).toEqual(['start a1', 'start b1']);
    a2.release();
    await settle();
    expect(log).toEqual(['start a1', 'start b1']); // a2 waits for a1 even though it could finish
    a1.release();
    await settle();
    expect(log).toEqual(['start a1', 'start b1', 'end a1', 'start a2', 'end a2']);
    b1.release();
    await Promise.all(runs);
    await q.idle();
  });

  it('keeps at most `limit` tasks running, and lets the rest in as slots free', async () => {
    const q = new PodQueue(2);
    const log: string[] = [];
    const gates = ['p', 'q', 'r'].map((k) => ({ k, g: gate(log, k) }));
    const runs = gates.map(({ k, g }) => q.run(k, g.task));
    await settle();
    expect(log).toEqual(['start p', 'start q']);
    expect(q.active).toBe(2);
    gates[0]!.g.release();
    await settle();
    expect(log).toEqual(['start p', 'start q', 'end p', 'start r']);
    expect(q.active).toBe(2);
    gates[1]!.g.release();
    gates[2]!.g.release();
    await Promise.all(runs);
    expect(q.active).toBe(0);
  });

  it('goes on with a pod’s next task after one failed, and hands each caller its own result', async () => {
    const q = new PodQueue(1);
    const failed = q.run('a', async () => {
      throw new Error('iptables-restore failed');
    });
    const next = q.run('a', async () => 42);
    await expect(failed).rejects.toThrow('iptables-restore failed');
    expect(await next).toBe(42);
    await q.idle();
  });

  it('refuses a limit below one', () => {
    expect(() => new PodQueue(0)).toThrow(RangeError);
  });
});
