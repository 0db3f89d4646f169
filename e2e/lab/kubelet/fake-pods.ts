// Fake-ready pods, for control-plane benchmarks only (bench/controller): a pod annotated
// `lab.ambient-mesh.io/fake-ready: "true"` gets no netns, no CNI and no process. The kubelet stand-in
// gives it an address from a range no real pod uses and reports it Running and Ready in one status
// write; deleting it frees the address at once. Thousands of pods then cost the lab only their API
// objects. Nothing can connect to such a pod, so it must never be put in an ambient namespace (the
// node agent would look for its netns).
//
// Address plan: node N (its pod CIDR is 10.244.N.0/24, nodePlan in ../config.ts), N in 1..40, owns
// 10.(200+N).0.0/16 and hands out hosts .1-.254 of each /24 in it: 65,024 addresses per node, so
// 10k pods fit on one node. 10.201.0.0/16 to 10.240.0.0/16 stay clear of the pod CIDRs
// (10.244.0.0/16), the Service range (10.96.0.0/16) and the fabric (172.18.0.0/24). Addresses are
// handed out next-fit (a cursor that moves on and wraps round), so a freed address is not reused
// before the whole range came round: a ztunnel still holding a deleted pod never sees a second owner.
import type { Pod, PodRecord } from './types.ts';

export const FAKE_READY_ANNOTATION = 'lab.ambient-mesh.io/fake-ready';

const BASE_OCTET = 200;
export const MAX_FAKE_NODE = 40;
const HOSTS_PER_BLOCK = 254;
const BLOCKS = 256;
/** Addresses one node can hand out. */
export const FAKE_RANGE_SIZE = HOSTS_PER_BLOCK * BLOCKS;

export function isFakeReady(pod: Pod): boolean {
  return pod.metadata.annotations?.[FAKE_READY_ANNOTATION] === 'true';
}

/** The node number N of a lab pod CIDR `10.244.N.0/24`, which selects the node's fake range. */
export function fakeRangeNode(podCidr: string): number {
  const m = /^10\.244\.(\d{1,3})\.0\/24$/.exec(podCidr);
  const n = m ? Number(m[1]) : Number.NaN;
  if (!(n >= 1 && n <= MAX_FAKE_NODE)) throw new RangeError(`fake pods: pod CIDR ${podCidr} is not a lab node's 10.244.N.0/24 with N in 1..${MAX_FAKE_NODE}`);
  return n;
}

/** The `index`-th fake address of node `node` (0-based, below FAKE_RANGE_SIZE). */
export function fakeIp(node: number, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= FAKE_RANGE_SIZE) throw new RangeError(`fake pods: index ${index} out of range`);
  return `10.${BASE_OCTET + node}.${Math.floor(index / HOSTS_PER_BLOCK)}.${(index % HOSTS_PER_BLOCK) + 1}`;
}

/** True for an address of any node's fake range (and so never a real pod's). */
export function isFakePodIp(ip: string): boolean {
  const m = /^10\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return false;
  const [b, c, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return b > BASE_OCTET && b <= BASE_OCTET + MAX_FAKE_NODE && c < BLOCKS && d >= 1 && d <= HOSTS_PER_BLOCK;
}

/** Next-fit allocation of one node's fake range, one address per pod uid. */
export class FakeIpAllocator {
  private readonly node: number;
  private readonly byUid = new Map<string, number>();
  private readonly used = new Uint8Array(FAKE_RANGE_SIZE);
  private cursor = 0;

  constructor(node: number) {
    if (!Number.isInteger(node) || node < 1 || node > MAX_FAKE_NODE) throw new RangeError(`fake pods: node ${node} not in 1..${MAX_FAKE_NODE}`);
    this.node = node;
  }

  get inUse(): number {
    return this.byUid.size;
  }

  /** The pod's address (the same one again for a uid that has one); undefined when the range is full. */
  allocate(uid: string): string | undefined {
    const have = this.byUid.get(uid);
    if (have !== undefined) return fakeIp(this.node, have);
    if (this.byUid.size >= FAKE_RANGE_SIZE) return undefined;
    let i = this.cursor;
    while (this.used[i]) i = (i + 1) % FAKE_RANGE_SIZE;
    this.used[i] = 1;
    this.byUid.set(uid, i);
    this.cursor = (i + 1) % FAKE_RANGE_SIZE;
    return fakeIp(this.node, i);
  }

  release(uid: string): void {
    const i = this.byUid.get(uid);
    if (i === undefined) return;
    this.used[i] = 0;
    this.byUid.delete(uid);
  }
}

export interface FakePodsConfig {
  /** The node's pod CIDR (`--pod-cidr`): selects its fake range. */
  podCidr: string;
  /** Called with the pod's record once: Running and Ready, with its address. */
  onChange: (rec: PodRecord) => void;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

/** The fake-ready pods of one node: their records and addresses. No I/O beyond `onChange`. */
export class FakePods {
  private readonly records = new Map<string, PodRecord>();
  /** Either the node's allocator or why this node has no fake range (its pods stay Pending). */
  private readonly ips: FakeIpAllocator | { error: string };
  private readonly cfg: FakePodsConfig;

  constructor(cfg: FakePodsConfig) {
    this.cfg = cfg;
    try {
      this.ips = new FakeIpAllocator(fakeRangeNode(cfg.podCidr));
    } catch (err) {
      // A node outside the plan still runs its real pods; only fake ones are refused.
      this.ips = { error: (err as Error).message };
    }
  }

  has(uid: string): boolean {
    return this.records.has(uid);
  }

  uids(): string[] {
    return [...this.records.keys()];
  }

  /** Gives the pod an address and reports it Running and Ready. Once per uid; later calls do nothing. */
  start(pod: Pod): void {
    const uid = pod.metadata.uid;
    if (!uid || this.records.has(uid)) return;
    const ref = `${pod.metadata.namespace}/${pod.metadata.name}`;
    if ('error' in this.ips) {
      this.cfg.log('fake pod refused', { pod: ref, error: this.ips.error });
      return;
    }
    const ip = this.ips.allocate(uid);
    if (ip === undefined) {
      // Left Pending; the next event for the pod tries again.
      this.cfg.log('fake pod range exhausted', { pod: ref, inUse: this.ips.inUse });
      return;
    }
    const now = new Date().toISOString();
    const rec: PodRecord = {
      uid,
      namespace: pod.metadata.namespace ?? 'default',
      name: pod.metadata.name,
      netns: '',
      podIp: ip,
      startTime: now,
      restartPolicy: pod.spec.restartPolicy ?? 'Always',
      containers: pod.spec.containers.map((c) => ({
        name: c.name,
        image: c.image,
        state: { kind: 'running', startedAt: now },
        ready: true,
        restartCount: 0,
      })),
    };
    this.records.set(uid, rec);
    this.cfg.onChange(rec);
  }

  /** Forgets the pod and frees its address. */
  stop(uid: string): void {
    if (!this.records.delete(uid) || 'error' in this.ips) return;
    this.ips.release(uid);
  }
}
