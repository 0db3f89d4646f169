// The waypoint's view of mesh workloads, from istio.workload.Address (the same set ztunnels get):
// workloads by IP, for telemetry's source_* and destination_* labels (Istio's waypoint does the same
// lookup through its workload-discovery bootstrap extension). Services in the set are ignored.
import { ipFromBytes } from '../../../lib/net/ip-bytes.ts';
import { addressCodec, unpackAny, type Any } from '../../../lib/proto/index.ts';
import type { PeerLookup, PeerWorkload } from '../config/types.ts';

export type PeerDecode = { ok: true; kind: 'workload'; peer: PeerWorkload; ips: string[] } | { ok: true; kind: 'service' } | { ok: false; error: string };

/** One Address resource: a workload's identity and names, or a service (not kept), or why not. */
export function decodePeer(any: Any): PeerDecode {
  const r = unpackAny(addressCodec, any);
  if (!r.ok) return { ok: false, error: r.error.issues.join(', ') };
  const t = r.value.type;
  if (!t) return { ok: false, error: 'type: required (workload or service)' };
  if (t.$case === 'service') return { ok: true, kind: 'service' };
  const w = t.workload;
  if (w.uid === '') return { ok: false, error: 'workload.uid: required' };
  const ips: string[] = [];
  for (const [i, b] of w.addresses.entries()) {
    const ip = ipFromBytes(b);
    if (ip === undefined) return { ok: false, error: `workload.addresses[${i}]: an IP address must be 4 or 16 bytes, got ${b.length}` };
    ips.push(ip);
  }
  const serviceAccount = w.serviceAccount || 'default';
  const trustDomain = w.trustDomain || 'cluster.local';
  const workloadName = w.workloadName || w.name;
  return {
    ok: true,
    kind: 'workload',
    ips,
    peer: {
      uid: w.uid,
      name: w.name,
      namespace: w.namespace,
      serviceAccount,
      workloadName,
      canonicalService: w.canonicalName || workloadName,
      canonicalRevision: w.canonicalRevision || 'latest',
      cluster: w.clusterId,
      // WDS carries no labels: the canonical names are Istio's own fallback for app/version.
      app: w.canonicalName || undefined,
      version: w.canonicalRevision || undefined,
      identity: `spiffe://${trustDomain}/ns/${w.namespace}/sa/${serviceAccount}`,
    },
  };
}

/** Workloads by resource name and by IP; written by the Address handler only. */
export class PeerTable implements PeerLookup {
  readonly #byName = new Map<string, { peer: PeerWorkload; ips: string[] }>();
  readonly #byIp = new Map<string, PeerWorkload>();

  get size(): number {
    return this.#byName.size;
  }

  findByIp(ip: string): PeerWorkload | undefined {
    // IPv4-mapped IPv6 (a dual-stack socket's view of an IPv4 peer) finds the IPv4 workload.
    return this.#byIp.get(ip) ?? (ip.startsWith('::ffff:') ? this.#byIp.get(ip.slice(7)) : undefined);
  }

  upsert(name: string, peer: PeerWorkload, ips: string[]): void {
    this.remove(name);
    this.#byName.set(name, { peer, ips });
    for (const ip of ips) this.#byIp.set(ip, peer);
  }

  remove(name: string): boolean {
    const old = this.#byName.get(name);
    if (!old) return false;
    this.#byName.delete(name);
    for (const ip of old.ips) {
      if (this.#byIp.get(ip) !== old.peer) continue;
      this.#byIp.delete(ip);
      // Host-network pods share their node's IP: another workload may still have it.
      for (const e of this.#byName.values()) if (e.ips.includes(ip)) this.#byIp.set(ip, e.peer);
    }
    return true;
  }
}
