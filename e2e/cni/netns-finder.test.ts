// The node agent finds a running pod's netns from its IP through /proc, as it must after a restart;
// its index enters only the netns it has not seen, and never answers with a netns that is gone.
import { spawn, type ChildProcess } from 'node:child_process';
import { fstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeFd } from '../../lib/netns/index.ts';
import { addTestInterface, createThrowawayNetns, type ThrowawayNetns } from '../../lib/netns/throwaway-netns.ts';
import { findNetnsByIp, listProcNetns, NetnsIndex } from '../../cni/agent/netns-finder.ts';
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

describe('the netns index (root)', () => {
  // A stand-in /proc whose "processes" are symlinks to throwaway netns, so the test sees exactly
  // the netns it made and none of the machine's.
  let proc = '';
  const pods: ThrowawayNetns[] = [];
  let nextPid = 100;
  const addPod = (cidr: string | undefined): { ns: ThrowawayNetns; pid: number } => {
    const ns = createThrowawayNetns();
    pods.push(ns);
    if (cidr) addTestInterface(ns, 'eth0', [cidr]);
    const pid = nextPid++;
    mkdirSync(join(proc, String(pid), 'ns'), { recursive: true });
    symlinkSync(ns.path, join(proc, String(pid), 'ns', 'net'));
    return { ns, pid };
  };
  const inoOf = (fd: number) => fstatSync(fd).ino;

  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error('must run as root: creates network namespaces');
    proc = mkdtempSync(join(tmpdir(), 'amt-fake-proc-'));
    mkdirSync(join(proc, 'self', 'ns'), { recursive: true });
    symlinkSync('/proc/self/ns/net', join(proc, 'self', 'ns', 'net'));
  });

  afterAll(() => {
    for (const p of pods) p.remove();
    if (proc) rmSync(proc, { recursive: true, force: true });
  });

  it('reads every netns once, answers later lookups by entering only the one found, and only new netns on a miss', () => {
    const a = addPod('10.251.8.1/24');
    const b = addPod('10.251.8.2/24');
    const index = new NetnsIndex({ procRoot: proc });
    const first = index.find(['10.251.8.2'])!;
    expect(inoOf(first.fd)).toBe(statSync(b.ns.path).ino);
    closeFd(first.fd);
    expect(index.stats).toEqual({ scans: 1, entered: 3 }); // a and b read, then b checked
    const again = index.find(['10.251.8.1'])!;
    expect(inoOf(again.fd)).toBe(statSync(a.ns.path).ino);
    closeFd(again.fd);
    expect(index.stats).toEqual({ scans: 1, entered: 4 });

    const c = addPod('10.251.8.3/24');
    const third = index.find(['10.251.8.3'])!;
    expect(inoOf(third.fd)).toBe(statSync(c.ns.path).ino);
    closeFd(third.fd);
    expect(index.stats).toEqual({ scans: 2, entered: 6 }); // c read and checked; a and b not entered
    expect(index.size).toBe(3);
  });

  it('re-reads a netns that had no address yet, and forgets one whose pod is gone', () => {
    const index = new NetnsIndex({ procRoot: proc });
    const late = addPod(undefined);
    expect(index.find(['10.251.8.9'])).toBeUndefined();
    addTestInterface(late.ns, 'eth0', ['10.251.8.9/24']);
    const found = index.find(['10.251.8.9'])!;
    expect(inoOf(found.fd)).toBe(statSync(late.ns.path).ino);
    closeFd(found.fd);

    const gone = addPod('10.251.8.10/24');
    const before = index.find(['10.251.8.10'])!;
    closeFd(before.fd);
    unlinkSync(join(proc, String(gone.pid), 'ns', 'net'));
    gone.ns.remove();
    expect(index.find(['10.251.8.10'])).toBeUndefined();
  });
});
