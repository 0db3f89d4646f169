// Finds the network namespace of a running pod from its IP, the way a node agent must after a
// restart (it kept no handles): walk /proc/<pid>/ns/net of every process, visit each distinct netns
// once and look for an interface carrying the pod's IP. The host's own netns is skipped.
import { readdirSync, statSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { closeFd, openNetns, runInNetns } from '../../lib/netns/index.ts';

export interface FoundNetns {
  /** An open fd on the netns (the caller owns it). */
  fd: number;
  /** The /proc path it was found through (for logs). */
  path: string;
}

function addressesInside(fd: number): string[] {
  return runInNetns(fd, () => Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address)));
}

/** Every distinct netns reachable through /proc except our own, as `/proc/<pid>/ns/net` paths. */
export function listProcNetns(procRoot = '/proc'): string[] {
  const own = statSync(`${procRoot}/self/ns/net`).ino;
  const seen = new Set<number>([own]);
  const out: string[] = [];
  for (const entry of readdirSync(procRoot)) {
    if (!/^\d+$/.test(entry)) continue;
    const path = `${procRoot}/${entry}/ns/net`;
    try {
      const ino = statSync(path).ino;
      if (seen.has(ino)) continue;
      seen.add(ino);
      out.push(path);
    } catch {
      /* the process exited, or is not ours to see */
    }
  }
  return out;
}

/** The netns whose interfaces carry any of `ips`; undefined when no process lives in it. */
export function findNetnsByIp(ips: readonly string[], candidates: readonly string[] = listProcNetns()): FoundNetns | undefined {
  const want = new Set(ips);
  for (const path of candidates) {
    let fd: number;
    try {
      fd = openNetns(path);
    } catch {
      continue; // the process exited between the listing and now
    }
    try {
      if (addressesInside(fd).some((a) => want.has(a))) return { fd, path };
    } catch {
      /* entering failed: not a netns we can use */
    }
    closeFd(fd);
  }
  return undefined;
}
