// The request hash of a route's hash policies (pure; Envoy's RouteAction.hash_policy): each policy
// that finds its input (a header, a cookie, the source IP, a query parameter) contributes, hashes
// are combined as Envoy does (rotate-left and xor), a `terminal` hit stops the list. Undefined =
// no input found: the load balancer picks at random. A cookie policy with a TTL whose cookie is
// missing asks the router to set one (Envoy generates it from the source address and routes on it).
import type { HashPolicy } from '../config/types.ts';
import { hash64 } from '../upstream/load-balancer-ring-hash.ts';

export interface HashInputs {
  /** Lower-case names. */
  header(name: string): string | undefined;
  cookie(name: string): string | undefined;
  sourceIp: string;
  query(name: string): string | undefined;
}

export interface RequestHash {
  hash: bigint | undefined;
  /** A cookie to add to the response (`Set-Cookie`), when a TTL cookie policy generated one. */
  setCookie?: { name: string; value: string; path?: string; ttlMs: number };
}

const MASK64 = 0xffffffffffffffffn;

function rotl1(h: bigint): bigint {
  return ((h << 1n) | (h >> 63n)) & MASK64;
}

export function requestHash(policies: readonly HashPolicy[] | undefined, req: HashInputs): RequestHash {
  let hash: bigint | undefined;
  let setCookie: RequestHash['setCookie'];
  for (const p of policies ?? []) {
    let v: string | undefined;
    switch (p.kind) {
      case 'header':
        v = req.header(p.name);
        break;
      case 'cookie':
        v = req.cookie(p.name);
        if (v === undefined && p.ttlMs !== undefined) {
          // Envoy's generated cookie value is a hash of the downstream address: sticky from now on.
          v = hash64(req.sourceIp).toString(16);
          setCookie = { name: p.name, value: v, ttlMs: p.ttlMs, ...(p.path !== undefined ? { path: p.path } : {}) };
        }
        break;
      case 'source-ip':
        v = req.sourceIp || undefined;
        break;
      case 'query-parameter':
        v = req.query(p.name);
        break;
    }
    if (v === undefined) continue;
    const h = hash64(v);
    hash = hash === undefined ? h : rotl1(hash) ^ h;
    if (p.terminal) break;
  }
  return { hash, ...(setCookie ? { setCookie } : {}) };
}
