// The node agent finds a running pod's netns from its IP through /proc, as it must after a restart.
import { spawn, type ChildProcess } from 'node:child_process';
import { fstatSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeFd } from '../../lib/netns/index.ts';
import { addTestInterface, createThrowawayNetns, type ThrowawayNetns } from '../../lib/netns/throwaway-netns.ts';
import { findNetnsByIp, listProcNetns } from '../../cni/agent/netns-finder.ts';
import { pollUntil } from '../lab/poll.ts';

describe('finding a pod netns by IP (root)', () => {
  let pod: ThrowawayNetns;
  let proc: ChildProcess;

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('must run as root: creates a network namespace');
    pod = createThrowawayNetns();
    addTestInterface(pod, 'eth0', ['10.251.7.9/24']);
    // A "container" process living in the pod netns, so /proc leads to it.
    proc = spawn('ip', ['netns', 'exec', pod.name, 'sleep', '60'], { stdio: 'ignore' });
    const ino = statSync(pod.path).ino;
    await pollUntil('the process to enter the netns', () => listProcNetns().some((p) => statSync(p).ino === ino), { timeoutMs: 5000 });
  });

  afterAll(() => {
    proc?.kill('SIGKILL');
    pod?.remove();
  });

  it('finds the netns carrying the IP and hands back an open fd on it', () => {
    const found = findNetnsByIp(['10.251.7.9']);
    expect(found).toBeDefined();
    try {
      expect(fstatSync(found!.fd).ino).toBe(statSync(pod.path).ino);
      expect(found!.path).toMatch(/^\/proc\/\d+\/ns\/net$/);
    } finally {
      closeFd(found!.fd);
    }
  });

  it('finds nothing for an IP no netns carries', () => {
    expect(findNetnsByIp(['10.251.7.99'])).toBeUndefined();
  });
});
