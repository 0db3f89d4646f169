// One round of bench/controller as plain data: for each pod, when the bench's watch saw it Ready and
// when each ztunnel's config_dump first held it. The push latency of a pod is its last ztunnel's
// first sighting minus its Ready time. Pure (times are passed in), so it is unit-tested.

interface PodTimes {
  ready?: number;
  /** First sighting per ztunnel (index as in `ztunnels`). */
  seen: (number | undefined)[];
  seenCount: number;
  /** Latest of `seen` once every ztunnel had the pod. */
  allSeenAt?: number;
}

export interface RoundProgress {
  total: number;
  ready: number;
  /** Pods each ztunnel has had, by ztunnel name. */
  seenBy: Record<string, number>;
  /** Pods Ready and on every ztunnel. */
  done: number;
}

export class RoundTracker {
  readonly ztunnels: readonly string[];
  private readonly prefix: string;
  private readonly pods = new Map<string, PodTimes>();
  private readonly zIndex = new Map<string, number>();
  private readonly seenBy: number[];
  private readyCount = 0;
  private doneCount = 0;

  /** `names` are the round's pods; `uidPrefix` + name is a pod's workload uid. */
  constructor(names: readonly string[], ztunnels: readonly string[], uidPrefix: string) {
    this.ztunnels = ztunnels;
    this.prefix = uidPrefix;
    ztunnels.forEach((z, i) => this.zIndex.set(z, i));
    this.seenBy = ztunnels.map(() => 0);
    for (const n of names) this.pods.set(n, { seen: ztunnels.map(() => undefined), seenCount: 0 });
  }

  get total(): number {
    return this.pods.size;
  }

  /** The first Ready of a round pod counts; later ones and other pods are ignored. */
  ready(name: string, at: number): void {
    const p = this.pods.get(name);
    if (!p || p.ready !== undefined) return;
    p.ready = at;
    this.readyCount++;
    if (p.allSeenAt !== undefined) this.doneCount++;
  }

  /** Workload uids a ztunnel held at `at`: the first sighting of each round pod counts. */
  seen(ztunnel: string, uids: Iterable<string>, at: number): void {
    const z = this.zIndex.get(ztunnel);
    if (z === undefined) throw new Error(`unknown ztunnel ${ztunnel}`);
    for (const uid of uids) {
      if (!uid.startsWith(this.prefix)) continue;
      const p = this.pods.get(uid.slice(this.prefix.length));
      if (!p || p.seen[z] !== undefined) continue;
      p.seen[z] = at;
      p.seenCount++;
      this.seenBy[z]!++;
      if (p.seenCount === this.ztunnels.length) {
        p.allSeenAt = Math.max(...(p.seen as number[]));
        if (p.ready !== undefined) this.doneCount++;
      }
    }
  }

  isComplete(): boolean {
    return this.doneCount === this.pods.size;
  }

  progress(): RoundProgress {
    return {
      total: this.pods.size,
      ready: this.readyCount,
      seenBy: Object.fromEntries(this.ztunnels.map((z, i) => [z, this.seenBy[i]!])),
      done: this.doneCount,
    };
  }

  /** Push latency (ms) of every pod that is Ready and on every ztunnel; negative when a ztunnel beat the bench's watch. */
  latencies(): number[] {
    const out: number[] = [];
    for (const p of this.pods.values()) if (p.ready !== undefined && p.allSeenAt !== undefined) out.push(p.allSeenAt - p.ready);
    return out;
  }

  /** The latest Ready time and the latest all-ztunnels time over the pods that have them. */
  lastTimes(): { ready: number | undefined; allSeen: number | undefined } {
    let ready: number | undefined;
    let allSeen: number | undefined;
    for (const p of this.pods.values()) {
      if (p.ready !== undefined && (ready === undefined || p.ready > ready)) ready = p.ready;
      if (p.allSeenAt !== undefined && (allSeen === undefined || p.allSeenAt > allSeen)) allSeen = p.allSeenAt;
    }
    return { ready, allSeen };
  }

  /** Up to `limit` pods not done yet, with what they lack, for the error when a round times out. */
  missing(limit = 5): string[] {
    const out: string[] = [];
    for (const [name, p] of this.pods) {
      if (out.length >= limit) break;
      if (p.ready !== undefined && p.allSeenAt !== undefined) continue;
      const lacks = [
        ...(p.ready === undefined ? ['Ready'] : []),
        ...this.ztunnels.filter((_, i) => p.seen[i] === undefined).map((z) => `ztunnel ${z}`),
      ];
      out.push(`${name} (no ${lacks.join(', no ')})`);
    }
    return out;
  }
}
