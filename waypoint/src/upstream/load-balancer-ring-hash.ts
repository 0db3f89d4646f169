// Consistent hashing over a cluster's healthy endpoints (pure; Envoy's RING_HASH and MAGLEV): a
// request's hash (router/hash-policy.ts) picks the same endpoint while the endpoint set is stable,
// and when an endpoint leaves only its share of keys moves. Ring: each endpoint owns
// weight-proportional points (the ring scaled between minimumRingSize and maximumRingSize), a key
// goes to the first point at or after its hash. Maglev: a lookup table of `tableSize` (prime)
// entries filled by each endpoint's permutation. The hash function is ours (64-bit FNV-1a, not
// Envoy's xxHash): keys map consistently across our waypoints, not to the endpoint Envoy would pick.
import type { Endpoint } from '../config/types.ts';
import { endpointKey, healthyEndpoints, type LoadBalancer } from './load-balancer.ts';

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;

/** 64-bit FNV-1a of a string's UTF-8 bytes. */
export function hash64(s: string): bigint {
  let h = FNV_OFFSET;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= BigInt(b);
    h = (h * FNV_PRIME) & MASK64;
  }
  // A final avalanche (splitmix64's): FNV alone clusters similar keys (`host_1`, `host_2`) on a ring.
  h ^= h >> 30n;
  h = (h * 0xbf58476d1ce4e5b9n) & MASK64;
  h ^= h >> 27n;
  h = (h * 0x94d049bb133111ebn) & MASK64;
  h ^= h >> 31n;
  return h;
}

export interface RingHashSettings {
  minimumRingSize: number;
  maximumRingSize: number;
}

interface Ring {
  key: string;
  hashes: bigint[];
  owners: Endpoint[];
}

function setKey(endpoints: readonly Endpoint[]): string {
  return endpoints.map((e) => `${endpointKey(e)}/${e.weight}`).join(',');
}

/** The ring of `endpoints` (already healthy), sorted by hash. */
export function buildRing(endpoints: readonly Endpoint[], s: RingHashSettings): { hashes: bigint[]; owners: Endpoint[] } {
  if (endpoints.length === 0) return { hashes: [], owners: [] };
  const total = endpoints.reduce((n, e) => n + e.weight, 0);
  const minNormalized = Math.min(...endpoints.map((e) => e.weight / total));
  // Envoy: enough points that the lightest endpoint gets its share of minimumRingSize, capped.
  const scale = Math.min(Math.ceil(minNormalized * s.minimumRingSize) / minNormalized, s.maximumRingSize);
  const points: { h: bigint; e: Endpoint }[] = [];
  for (const e of endpoints) {
    const n = Math.max(1, Math.floor((e.weight / total) * scale));
    const k = endpointKey(e);
    for (let i = 0; i < n; i++) points.push({ h: hash64(`${k}_${i}`), e });
  }
  points.sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : 0));
  return { hashes: points.map((p) => p.h), owners: points.map((p) => p.e) };
}

/** The first ring point at or after `h` (wrapping), by binary search. */
export function ringLookup(ring: { hashes: readonly bigint[]; owners: readonly Endpoint[] }, h: bigint): Endpoint | undefined {
  const n = ring.hashes.length;
  if (n === 0) return undefined;
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ring.hashes[mid]! < h) lo = mid + 1;
    else hi = mid;
  }
  return ring.owners[lo === n ? 0 : lo];
}

/** A random 64-bit hash, for requests no hash policy applies to (Envoy picks a random host then). */
function randomHash(random: () => number): bigint {
  return (BigInt(Math.floor(random() * 2 ** 32)) << 32n) | BigInt(Math.floor(random() * 2 ** 32));
}

export class RingHashLoadBalancer implements LoadBalancer {
  readonly #settings: RingHashSettings;
  readonly #random: () => number;
  #ring: Ring | undefined;

  constructor(settings: RingHashSettings = { minimumRingSize: 1024, maximumRingSize: 8 * 1024 * 1024 }, random: () => number = Math.random) {
    this.#settings = settings;
    this.#random = random;
  }

  /** The endpoint for `hash` (undefined hash → random); the ring is rebuilt only when the healthy set changes. */
  pickByHash(endpoints: readonly Endpoint[], hash: bigint | undefined): Endpoint | undefined {
    const healthy = healthyEndpoints(endpoints);
    const key = setKey(healthy);
    if (this.#ring?.key !== key) this.#ring = { key, ...buildRing(healthy, this.#settings) };
    return ringLookup(this.#ring, hash ?? randomHash(this.#random));
  }

  pick(endpoints: readonly Endpoint[]): Endpoint | undefined {
    return this.pickByHash(endpoints, undefined);
  }
}

/** Maglev's lookup table (Eisenbud et al.): entry → endpoint, weights by how often each fills. */
export function buildMaglevTable(endpoints: readonly Endpoint[], tableSize: number): Endpoint[] {
  const n = endpoints.length;
  if (n === 0) return [];
  const maxWeight = Math.max(...endpoints.map((e) => e.weight));
  const offsets = endpoints.map((e) => Number(hash64(`${endpointKey(e)}#offset`) % BigInt(tableSize)));
  const skips = endpoints.map((e) => Number(hash64(`${endpointKey(e)}#skip`) % BigInt(tableSize - 1)) + 1);
  const next = new Array<number>(n).fill(0);
  const table = new Array<Endpoint | undefined>(tableSize).fill(undefined);
  let filled = 0;
  for (let round = 0; filled < tableSize; round++) {
    for (let i = 0; i < n && filled < tableSize; i++) {
      // Weighted: an endpoint takes a slot in `weight / maxWeight` of the rounds.
      const e = endpoints[i]!;
      if (Math.floor(((round + 1) * e.weight) / maxWeight) === Math.floor((round * e.weight) / maxWeight)) continue;
      let slot: number;
      do {
        slot = (offsets[i]! + next[i]! * skips[i]!) % tableSize;
        next[i]!++;
      } while (table[slot] !== undefined);
      table[slot] = e;
      filled++;
    }
  }
  return table as Endpoint[];
}

export class MaglevLoadBalancer implements LoadBalancer {
  readonly #tableSize: number;
  readonly #random: () => number;
  #table: { key: string; entries: Endpoint[] } | undefined;

  constructor(tableSize = 65537, random: () => number = Math.random) {
    this.#tableSize = tableSize;
    this.#random = random;
  }

  pickByHash(endpoints: readonly Endpoint[], hash: bigint | undefined): Endpoint | undefined {
    const healthy = healthyEndpoints(endpoints);
    const key = setKey(healthy);
    if (this.#table?.key !== key) this.#table = { key, entries: buildMaglevTable(healthy, this.#tableSize) };
    const t = this.#table.entries;
    if (t.length === 0) return undefined;
    return t[Number((hash ?? randomHash(this.#random)) % BigInt(t.length))];
  }

  pick(endpoints: readonly Endpoint[]): Endpoint | undefined {
    return this.pickByHash(endpoints, undefined);
  }
}
