// What the DNS proxy answers itself (fact sheet §8.2): names of mesh services, found the way a pod's
// resolver would have meant them (Kubernetes short forms expanded with the client's namespace,
// search-domain suffixes stripped and retried, wildcard hosts), answered authoritatively with A or
// AAAA records; everything else is left to the upstream resolvers. Pure functions over plain data.
import { isIPv4, isIPv6 } from 'node:net';
import type { Service, Workload } from '../state/types.ts';
import { serviceKey } from '../state/types.ts';
import { canonicalName, CLASS_IN, RR_TYPE, type DnsQuestion, type DnsRecord } from './message.ts';

/** TTL of our own answers: short, since the mesh changes under them. */
export const ANSWER_TTL_SECONDS = 30;
export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';

/** Canonical host name (lower case, no final dot) → its addresses, IPv4 and IPv6 mixed. */
export type HostCatalog = ReadonlyMap<string, readonly string[]>;

/**
 * The names this proxy is authoritative for: every service hostname with its VIPs on `network`
 * (all its VIPs if it has none there); a service without VIPs (headless) gets the addresses of its
 * healthy endpoints. Services sharing a hostname (ServiceEntries in several namespaces) are merged.
 */
export function buildHostCatalog(services: readonly Service[], endpoints: (serviceKey: string) => readonly Workload[], network: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const s of services) {
    const local = s.vips.filter((v) => v.network === network);
    let addresses = (local.length ? local : s.vips).map((v) => v.address);
    if (addresses.length === 0) {
      addresses = endpoints(serviceKey(s))
        .filter((w) => w.status === 'HEALTHY' && w.network === network)
        .flatMap((w) => w.addresses);
    }
    const host = canonicalName(s.hostname);
    const merged = out.get(host) ?? [];
    for (const a of addresses) if (!merged.includes(a)) merged.push(a);
    out.set(host, merged);
  }
  return out;
}

/** The search list kubelet writes into a pod's resolv.conf (ClusterFirst DNS policy). */
export function podSearchDomains(namespace: string, clusterDomain = DEFAULT_CLUSTER_DOMAIN): string[] {
  return [`${namespace}.svc.${clusterDomain}`, `svc.${clusterDomain}`, clusterDomain];
}

export interface ResolveInput {
  catalog: HostCatalog;
  /** The namespace of the pod asking: short names are relative to it. */
  clientNamespace: string;
  clusterDomain?: string;
  /** The client's search list; defaults to podSearchDomains(clientNamespace, clusterDomain). */
  searchDomains?: readonly string[];
  question: DnsQuestion;
}

export type Resolution =
  /** Authoritative NOERROR; `records` may be empty (a known name without records of this type). */
  | { kind: 'answer'; records: DnsRecord[]; host: string }
  | { kind: 'forward'; reason: 'query-type' | 'query-class' | 'unknown-name' };

/** The match of a question name in the catalog: `owner` is the name the address records belong to. */
export interface HostMatch {
  owner: string;
  addresses: readonly string[];
}

export function resolve(input: ResolveInput): Resolution {
  const q = input.question;
  if (q.class !== CLASS_IN) return { kind: 'forward', reason: 'query-class' };
  if (q.type !== RR_TYPE.A && q.type !== RR_TYPE.AAAA) return { kind: 'forward', reason: 'query-type' };
  const domain = canonicalName(input.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN);
  const search = (input.searchDomains ?? podSearchDomains(input.clientNamespace, domain)).map(canonicalName);
  const match = findHost(input.catalog, canonicalName(q.name), input.clientNamespace.toLowerCase(), domain, search);
  if (!match) return { kind: 'forward', reason: 'unknown-name' };

  const wanted = q.type === RR_TYPE.A ? isIPv4 : isIPv6;
  const records: DnsRecord[] = [];
  // The question's own spelling stays the owner (clients compare it, some case-sensitively).
  const aliased = match.owner !== canonicalName(q.name);
  const owner = aliased ? match.owner : q.name;
  if (aliased) records.push({ kind: 'CNAME', name: q.name, class: CLASS_IN, ttl: ANSWER_TTL_SECONDS, target: match.owner });
  for (const address of match.addresses) {
    if (!wanted(address)) continue;
    records.push(q.type === RR_TYPE.A ? { kind: 'A', name: owner, class: CLASS_IN, ttl: ANSWER_TTL_SECONDS, address } : { kind: 'AAAA', name: owner, class: CLASS_IN, ttl: ANSWER_TTL_SECONDS, address });
  }
  return { kind: 'answer', records, host: match.owner };
}

/**
 * Candidate names in the order tried: the name itself, its short-form expansions, then for every
 * search domain it ends with, the name without that suffix (and its expansions). Exact names win
 * over wildcards; wildcards go from the most to the least specific.
 */
export function findHost(catalog: HostCatalog, name: string, namespace: string, domain: string, search: readonly string[]): HostMatch | undefined {
  if (name === '') return undefined;
  const bases = [name];
  for (const sd of search) {
    if (sd && name.endsWith(`.${sd}`)) {
      const base = name.slice(0, -(sd.length + 1));
      if (!bases.includes(base)) bases.push(base);
    }
  }
  for (const base of bases) {
    for (const candidate of [base, ...shortFormExpansions(base, namespace, domain)]) {
      const addresses = catalog.get(candidate);
      if (addresses) return { owner: candidate, addresses };
    }
  }
  for (const base of bases) {
    const labels = base.split('.');
    for (let i = 1; i < labels.length; i++) {
      const addresses = catalog.get(`*.${labels.slice(i).join('.')}`);
      if (addresses) return { owner: base, addresses };
    }
  }
  return undefined;
}

/**
 * Kubernetes short forms (fact sheet §8.2): `name` is a service in the client's namespace; `a.b` a
 * service `a` in namespace `b` (or a pod subdomain in the client's namespace); `a.b.svc` lacks only
 * the cluster domain; 3- and 4-label pod-subdomain forms likewise.
 */
export function shortFormExpansions(name: string, namespace: string, domain: string): string[] {
  if (name === domain || name.endsWith(`.${domain}`)) return [];
  const labels = name.split('.');
  const last = labels[labels.length - 1];
  switch (labels.length) {
    case 1:
      return [`${name}.${namespace}.svc.${domain}`];
    case 2:
      return [`${name}.svc.${domain}`, `${name}.${namespace}.svc.${domain}`];
    case 3:
      return last === 'svc' ? [`${name}.${domain}`] : [`${name}.svc.${domain}`];
    case 4:
      return last === 'svc' ? [`${name}.${domain}`] : [];
    default:
      return [];
  }
}
