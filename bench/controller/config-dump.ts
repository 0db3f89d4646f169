// What bench/controller reads from a ztunnel's `/config_dump`: the uids of the workloads it holds
// (only those under one prefix, e.g. `Kubernetes//Pod/bench/`), and how that set changed since the
// previous poll. Pure; the poller worker calls it on every dump.

/** The workload uid prefix of a namespace's pods (`<cluster>//Pod/<ns>/`), as the controller names them. */
export function podUidPrefix(namespace: string, clusterId = 'Kubernetes'): string {
  return `${clusterId}//Pod/${namespace}/`;
}

/** The uids of `workloads[]` in a config_dump body that start with `prefix`. Throws on a body of another shape. */
export function workloadUids(dumpText: string, prefix: string): Set<string> {
  let dump: unknown;
  try {
    dump = JSON.parse(dumpText);
  } catch (err) {
    throw new Error(`config_dump: not JSON (${(err as Error).message})`);
  }
  const workloads = (dump as { workloads?: unknown } | null)?.workloads;
  if (!Array.isArray(workloads)) throw new Error('config_dump: no workloads array');
  const out = new Set<string>();
  for (const [i, w] of workloads.entries()) {
    const uid = (w as { uid?: unknown } | null)?.uid;
    if (typeof uid !== 'string') throw new Error(`config_dump: workloads[${i}].uid is not a string`);
    if (uid.startsWith(prefix)) out.add(uid);
  }
  return out;
}

/** What entered and what left between two polls. */
export function diffUids(prev: ReadonlySet<string>, next: ReadonlySet<string>): { added: string[]; removed: string[] } {
  const added: string[] = [];
  const removed: string[] = [];
  for (const u of next) if (!prev.has(u)) added.push(u);
  for (const u of prev) if (!next.has(u)) removed.push(u);
  return { added, removed };
}
