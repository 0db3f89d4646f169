// Finds the network namespace of a running pod from its IP, the way a node agent must after a
// restart or when a namespace turns ambient (it holds no handle for pods it did not capture at CNI
// ADD): every /proc/<pid>/ns/net leads to some netns, and the one whose interfaces carry the pod's
// IP is the pod's. The host's own netns is skipped.
//
// findNetnsByIp walks and enters every netns on each call; NetnsIndex (what the agent uses)
// remembers which netns carries which addresses, so a lookup is one stat pass over /proc plus
// entering only the netns it has not seen yet, and a hit is checked by entering that one netns.
import { fstatSync, readdirSync, statSync } from 'node:fs';
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

/** Every distinct netns reachable through /proc except our own, by inode, with one path to it. */
export function scanProcNetns(procRoot = '/proc'): Map<number, string> {
  const own = statSync(`${procRoot}/self/ns/net`).ino;
  const out = new Map<number, string>();
  for (const entry of readdirSync(procRoot)) {
    if (!/^\d+$/.test(entry)) continue;
    const path = `${procRoot}/${entry}/ns/net`;
    try {
      const ino = statSync(path).ino;
      if (ino !== own && !out.has(ino)) out.set(ino, path);
    } catch {
      /* the process exited, or is not ours to see */
    }
  }
  return out;
}

/** Every distinct netns reachable through /proc except our own, as `/proc/<pid>/ns/net` paths. */
export function listProcNetns(procRoot = '/proc'): string[] {
  return [...scanProcNetns(procRoot).values()];
}

/** The netns whose interfaces carry any of `ips`; undefined when no process lives in it. */
export function findNetnsByIp(ips: readonly string[], candidates: readonly string[] = listProcNetns()): FoundNetns | undefined {
  const want = new Set(ips);
  for (const path of candidates) {
    const found = openIfCarries(path, want);
    if (found !== undefined) return { fd: found, path };
  }
  return undefined;
}

/** An open fd on `path` when that netns carries one of `want` (and, if given, has inode `ino`). */
function openIfCarries(path: string, want: ReadonlySet<string>, ino?: number): number | undefined {
  let fd: number;
  try {
    fd = openNetns(path);
  } catch {
    return undefined; // the process exited between the listing and now
  }
  try {
    if ((ino === undefined || fstatSync(fd).ino === ino) && addressesInside(fd).some((a) => want.has(a))) return fd;
  } catch {
    /* entering failed: not a netns we can use */
  }
  closeFd(fd);
  return undefined;
}

interface Known {
  path: string;
  addresses: string[];
}

export interface NetnsIndexStats {
  /** /proc stat passes made. */
  scans: number;
  /** Netns entered to read their addresses (lookups' checks included). */
  entered: number;
}

/**
 * netns inode → path and addresses, filled from /proc on a miss. Only netns not seen before are
 * entered during a refresh, plus those that carried no address but loopback when last read (a pod
 * netns is created before its IP is assigned). Every answer is checked against the live netns, so
 * a stale entry (pod gone, inode reused) costs a refresh, never a wrong fd.
 */
export class NetnsIndex {
  readonly #procRoot: string;
  readonly #byIno = new Map<number, Known>();
  readonly #inoByIp = new Map<string, number>();
  readonly stats: NetnsIndexStats = { scans: 0, entered: 0 };

  constructor(opts: { procRoot?: string } = {}) {
    this.#procRoot = opts.procRoot ?? '/proc';
  }

  /** Netns currently indexed. */
  get size(): number {
    return this.#byIno.size;
  }

  find(ips: readonly string[]): FoundNetns | undefined {
    const hit = this.#lookup(ips);
    if (hit) return hit;
    this.#refresh();
    return this.#lookup(ips);
  }

  #lookup(ips: readonly string[]): FoundNetns | undefined {
    const want = new Set(ips);
    for (const ip of ips) {
      const ino = this.#inoByIp.get(ip);
      if (ino === undefined) continue;
      const known = this.#byIno.get(ino);
      if (!known) continue;
      this.stats.entered++;
      const fd = openIfCarries(known.path, want, ino);
      if (fd !== undefined) return { fd, path: known.path };
      this.#forget(ino);
    }
    return undefined;
  }

  #refresh(): void {
    this.stats.scans++;
    const live = scanProcNetns(this.#procRoot);
    for (const ino of [...this.#byIno.keys()]) if (!live.has(ino)) this.#forget(ino);
    for (const [ino, path] of live) {
      const known = this.#byIno.get(ino);
      if (known && known.addresses.some((a) => !isLoopback(a))) {
        known.path = path; // the process we knew it by may have exited
        continue;
      }
      const addresses = this.#read(path, ino);
      if (addresses === undefined) continue;
      if (known) this.#forget(ino);
      this.#byIno.set(ino, { path, addresses });
      for (const a of addresses) if (!isLoopback(a)) this.#inoByIp.set(a, ino);
    }
  }

  #read(path: string, ino: number): string[] | undefined {
    let fd: number;
    try {
      fd = openNetns(path);
    } catch {
      return undefined;
    }
    try {
      if (fstatSync(fd).ino !== ino) return undefined;
      this.stats.entered++;
      return addressesInside(fd);
    } catch {
      return undefined;
    } finally {
      closeFd(fd);
    }
  }

  #forget(ino: number): void {
    const known = this.#byIno.get(ino);
    if (!known) return;
    this.#byIno.delete(ino);
    for (const a of known.addresses) if (this.#inoByIp.get(a) === ino) this.#inoByIp.delete(a);
  }
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.');
}
