// A lab whose processes all died (a crash, a killed test run) is swept by `down --all`, and `up`
// refuses to start over a live lab but recovers from a dead one.
import { afterAll, describe, expect, it } from 'vitest';
import { down, runningLab, up } from './lab.ts';
import { pollUntil } from './poll.ts';
import { labProcesses, leftovers } from './sweep.ts';
import { readState } from './state.ts';
import { LabError } from './lab.ts';

describe('lab crash recovery (root)', () => {
  afterAll(async () => {
    await down({ all: true });
  });

  it('refuses a second lab, and down --all sweeps a crashed one', async () => {
    const lab = await up({ nodes: 1 });
    await expect(up({ nodes: 1 })).rejects.toSatisfy((e) => e instanceof LabError && e.code === 'LAB_RUNNING');

    // Crash: every process of the run dies at once, nothing is cleaned up.
    for (const p of labProcesses(lab.runId)) process.kill(p.pid, 'SIGKILL');
    await pollUntil('lab processes to die', () => labProcesses(lab.runId).length === 0, { timeoutMs: 10_000 });
    await pollUntil('the lab to count as not running', () => runningLab() === undefined, { timeoutMs: 10_000 });
    expect(readState()?.runId).toBe(lab.runId);
    expect(leftovers(undefined).netns.length).toBeGreaterThan(0);

    const left = await down({ all: true });
    expect(left).toEqual({ processes: [], netns: [], mounts: [] });
    expect(readState()).toBeUndefined();
  });
});
