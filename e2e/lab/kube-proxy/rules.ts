// The kube-proxy stand-in's decisions, as pure functions: which NAT and filter rules a node netns
// needs so that Service cluster IPs work for traffic the mesh does not capture. The output is
// `iptables-restore --noflush` input that re-declares (and so flushes) every chain of ours and fills
// it again: applying it twice is the same as applying it once, and no chain but ours is touched.
// The jumps into our chains from the built-in ones are listed in HOOKS; apply.ts installs them.
//
// Scope: IPv4 only (IPv6 cluster IPs and addresses are skipped); TCP and UDP ports; cluster IPs of
// every Service type (headless and ExternalName Services have none); no session affinity, NodePorts,
// external IPs or load-balancer IPs; ready endpoints only (no terminating fallback).
//
// Per Service port with ready endpoints, nat table:
//   LAB-SERVICES:  -d <clusterIP>/32 -p <proto> --dport <port> -j LAB-SVC-<hash>
//   LAB-SVC-<hash>: one rule per endpoint, `-m statistic --mode random --probability 1/(n-i)`,
//                   the last without, -j LAB-SEP-<hash>
//   LAB-SEP-<hash>: -p <proto> -j DNAT --to-destination <ip>:<port>
// Per Service port without ready endpoints, filter table (as kube-proxy does): REJECT with
// icmp-port-unreachable, so a TCP client fails at once with ECONNREFUSED instead of timing out.
// Hairpin: pods of one node share a bridge, so when a pod reaches a Service whose chosen endpoint
// is on the same bridge, the endpoint's reply would go straight back over the bridge, skip the node's
// conntrack and never be un-DNATed. LAB-POSTROUTING masquerades that traffic (source and DNATed
// destination both in the node's pod CIDR) so the reply comes back through the node. Service traffic
// from outside the cluster CIDR (e.g. the node netns' own fabric address) is masqueraded too, as
// kube-proxy does, so replies never depend on routes back to non-pod addresses.
import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';

/** Every chain we own starts with this; nothing else in the node netns may use it. */
export const CHAIN_PREFIX = 'LAB-';
export const SERVICES_CHAIN = 'LAB-SERVICES';
export const POSTROUTING_CHAIN = 'LAB-POSTROUTING';

export type Protocol = 'TCP' | 'UDP';

export interface ServicePortInfo {
  name?: string;
  port: number;
  protocol: string;
  /**
   * The Service's targetPort, for reference only: as in kube-proxy, the port traffic is sent to is
   * the EndpointSlice port of the same name (the endpoints controller already resolved it).
   */
  targetPort?: number | string;
}

export interface ServiceInfo {
  namespace: string;
  name: string;
  /** `None` (headless) and IPv6 addresses are ignored. */
  clusterIPs: string[];
  ports: ServicePortInfo[];
}

export interface SlicePortInfo {
  name?: string;
  port: number;
  protocol: string;
}

export interface SliceInfo {
  namespace: string;
  /** The owning Service (label kubernetes.io/service-name). */
  serviceName: string;
  ports: SlicePortInfo[];
  endpoints: { addresses: string[]; ready: boolean }[];
}

export interface ServiceRulesInput {
  services: ServiceInfo[];
  endpointSlices: SliceInfo[];
  /** This node's pod CIDR (IPv4), for the hairpin masquerade. */
  podCidr: string;
  /** All pods' CIDR (IPv4): Service traffic from outside it is masqueraded. */
  clusterCidr: string;
  /**
   * `masquerade` (default): every Service connection from a pod of this node to an endpoint on this
   * node is masqueraded to the bridge address; works whatever br_netfilter does, but the endpoint
   * sees the node's bridge address as the client. `self`: only a pod reaching itself through a
   * Service is masqueraded (kube-proxy's rule); other same-node replies then rely on br_netfilter
   * (`net.bridge.bridge-nf-call-iptables=1` in the node netns) to meet conntrack, and source
   * addresses are preserved.
   */
  localHairpin?: 'masquerade' | 'self';
}

/** A jump from a built-in chain into one of ours, as `iptables -t <table> -I <chain> 1 <args>`. */
export interface HookRule {
  table: 'nat' | 'filter';
  chain: string;
  args: string[];
}

export const HOOKS: readonly HookRule[] = [
  { table: 'nat', chain: 'PREROUTING', args: ['-m', 'comment', '--comment', 'lab service portals', '-j', SERVICES_CHAIN] },
  { table: 'nat', chain: 'OUTPUT', args: ['-m', 'comment', '--comment', 'lab service portals', '-j', SERVICES_CHAIN] },
  { table: 'nat', chain: 'POSTROUTING', args: ['-m', 'comment', '--comment', 'lab service hairpin', '-j', POSTROUTING_CHAIN] },
  { table: 'filter', chain: 'FORWARD', args: ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', 'lab services without endpoints', '-j', SERVICES_CHAIN] },
  { table: 'filter', chain: 'OUTPUT', args: ['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'comment', '--comment', 'lab services without endpoints', '-j', SERVICES_CHAIN] },
];

// ---------------------------------------------------------------------------------------------
// Converters from Kubernetes objects. Undefined means "nothing to program" (not a ClusterIP-bearing
// Service, not an IPv4 slice, not owned by a Service).

export function serviceInfoFromK8s(svc: V1Service): ServiceInfo | undefined {
  const namespace = svc.metadata?.namespace;
  const name = svc.metadata?.name;
  if (!namespace || !name || svc.spec?.type === 'ExternalName') return undefined;
  const clusterIPs = svc.spec?.clusterIPs?.length ? svc.spec.clusterIPs : svc.spec?.clusterIP ? [svc.spec.clusterIP] : [];
  return {
    namespace,
    name,
    clusterIPs: [...clusterIPs],
    ports: (svc.spec?.ports ?? []).map((p) => ({
      ...(p.name ? { name: p.name } : {}),
      port: p.port,
      protocol: p.protocol ?? 'TCP',
      ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
    })),
  };
}

export function sliceInfoFromK8s(slice: V1EndpointSlice): SliceInfo | undefined {
  const namespace = slice.metadata?.namespace;
  const serviceName = slice.metadata?.labels?.['kubernetes.io/service-name'];
  if (!namespace || !serviceName || slice.addressType !== 'IPv4') return undefined;
  return {
    namespace,
    serviceName,
    ports: (slice.ports ?? []).flatMap((p) =>
      p.port === undefined ? [] : [{ ...(p.name ? { name: p.name } : {}), port: p.port, protocol: p.protocol ?? 'TCP' }],
    ),
    // A nil `ready` condition means ready (EndpointConditions API contract).
    endpoints: (slice.endpoints ?? []).map((e) => ({ addresses: [...e.addresses], ready: e.conditions?.ready !== false })),
  };
}

// ---------------------------------------------------------------------------------------------
// The rule set.

export interface Endpoint {
  ip: string;
  port: number;
}

export interface ServicePortPlan {
  /** `namespace/name:port-name`, as kube-proxy names a service port. */
  id: string;
  protocol: Protocol;
  clusterIPs: string[];
  port: number;
  endpoints: Endpoint[];
}

/** The whole rule set for one node, as `iptables-restore --noflush` input (tables nat and filter). */
export function buildServiceRules(input: ServiceRulesInput): string {
  const podCidr = parseCidr(input.podCidr, 'podCidr');
  const clusterCidr = parseCidr(input.clusterCidr, 'clusterCidr');
  const plans = planServicePorts(input.services, input.endpointSlices);

  const natChains = [SERVICES_CHAIN, POSTROUTING_CHAIN];
  const nat: string[] = [];
  const filter: string[] = [];
  const hairpinSelf = new Set<string>();
  for (const p of plans) {
    const proto = p.protocol.toLowerCase();
    if (p.endpoints.length === 0) {
      for (const ip of p.clusterIPs) {
        filter.push(`-A ${SERVICES_CHAIN} -d ${ip}/32 -p ${proto} -m comment --comment ${quote(`${p.id} has no endpoints`)} -m ${proto} --dport ${p.port} -j REJECT --reject-with icmp-port-unreachable`);
      }
      continue;
    }
    const svcChain = chainName('SVC', `${p.id}/${p.protocol}`);
    natChains.push(svcChain);
    for (const ip of p.clusterIPs) {
      nat.push(`-A ${SERVICES_CHAIN} -d ${ip}/32 -p ${proto} -m comment --comment ${quote(`${p.id} cluster IP`)} -m ${proto} --dport ${p.port} -j ${svcChain}`);
    }
    const n = p.endpoints.length;
    p.endpoints.forEach((ep, i) => {
      const dest = `${ep.ip}:${ep.port}`;
      const sepChain = chainName('SEP', `${p.id}/${p.protocol}/${dest}`);
      natChains.push(sepChain);
      const pick = i < n - 1 ? ` -m statistic --mode random --probability ${(1 / (n - i)).toFixed(10)}` : '';
      nat.push(`-A ${svcChain} -m comment --comment ${quote(`${p.id} -> ${dest}`)}${pick} -j ${sepChain}`);
      nat.push(`-A ${sepChain} -p ${proto} -m comment --comment ${quote(p.id)} -m ${proto} -j DNAT --to-destination ${dest}`);
      if (inCidr(ep.ip, podCidr)) hairpinSelf.add(ep.ip);
    });
  }

  const post: string[] = [];
  if ((input.localHairpin ?? 'masquerade') === 'masquerade') {
    post.push(`-A ${POSTROUTING_CHAIN} -s ${cidrText(podCidr)} -d ${cidrText(podCidr)} -m conntrack --ctstate DNAT -m comment --comment ${quote('same-node service hairpin')} -j MASQUERADE`);
  } else {
    for (const ip of [...hairpinSelf].sort(compareIp)) {
      post.push(`-A ${POSTROUTING_CHAIN} -s ${ip}/32 -d ${ip}/32 -m conntrack --ctstate DNAT -m comment --comment ${quote('service hairpin to self')} -j MASQUERADE`);
    }
  }
  // Only connections DNATed to a pod: `-d clusterCidr` keeps other DNAT users of this netns out.
  post.push(`-A ${POSTROUTING_CHAIN} ! -s ${cidrText(clusterCidr)} -d ${cidrText(clusterCidr)} -m conntrack --ctstate DNAT -m comment --comment ${quote('service traffic from outside the cluster')} -j MASQUERADE`);

  return [
    '*nat',
    ...natChains.map((c) => `:${c} - [0:0]`),
    ...nat,
    ...post,
    'COMMIT',
    '*filter',
    `:${SERVICES_CHAIN} - [0:0]`,
    ...filter,
    'COMMIT',
    '',
  ].join('\n');
}

/**
 * The Service ports to program, sorted, each with its deduplicated ready IPv4 endpoints. A Service
 * port takes the EndpointSlice ports of the same name and protocol (an unnamed port matches an
 * unnamed one), from every slice labelled for that Service.
 */
export function planServicePorts(services: ServiceInfo[], slices: SliceInfo[]): ServicePortPlan[] {
  const slicesByService = new Map<string, SliceInfo[]>();
  for (const s of slices) {
    const key = `${s.namespace}/${s.serviceName}`;
    const list = slicesByService.get(key) ?? [];
    list.push(s);
    slicesByService.set(key, list);
  }
  const plans: ServicePortPlan[] = [];
  const sorted = [...services].sort((a, b) => cmp(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`));
  for (const svc of sorted) {
    const clusterIPs = [...new Set(svc.clusterIPs.filter((ip) => isIPv4(ip)))].sort(compareIp);
    if (clusterIPs.length === 0) continue;
    const seenPorts = new Set<string>();
    for (const sp of svc.ports) {
      const protocol = normalizeProtocol(sp.protocol);
      if (!protocol || !validPort(sp.port)) continue;
      const portName = sp.name ?? '';
      // A port number and protocol can appear only once per Service; keep the first if not.
      const dup = `${sp.port}/${protocol}`;
      if (seenPorts.has(dup)) continue;
      seenPorts.add(dup);
      const endpoints = new Map<string, Endpoint>();
      for (const slice of slicesByService.get(`${svc.namespace}/${svc.name}`) ?? []) {
        for (const slicePort of slice.ports) {
          if ((slicePort.name ?? '') !== portName || normalizeProtocol(slicePort.protocol) !== protocol) continue;
          if (!validPort(slicePort.port)) continue;
          for (const ep of slice.endpoints) {
            if (!ep.ready) continue;
            for (const ip of ep.addresses) {
              if (isIPv4(ip)) endpoints.set(`${ip}:${slicePort.port}`, { ip, port: slicePort.port });
            }
          }
        }
      }
      plans.push({
        id: `${svc.namespace}/${svc.name}${portName ? `:${portName}` : ''}`,
        protocol,
        clusterIPs,
        port: sp.port,
        endpoints: [...endpoints.values()].sort((a, b) => compareIp(a.ip, b.ip) || a.port - b.port),
      });
    }
  }
  return plans;
}

// ---------------------------------------------------------------------------------------------
// Reading back what is installed (iptables-save output), for cleanup of chains no longer wanted.

/** Our chains per table in `iptables-save` output (or in our own restore input). */
export function ourChains(saved: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  let table = '';
  for (const line of saved.split('\n')) {
    if (line.startsWith('*')) {
      table = line.slice(1).trim();
      continue;
    }
    const m = /^:(\S+)/.exec(line);
    if (m && table && m[1]!.startsWith(CHAIN_PREFIX)) {
      const set = out.get(table) ?? new Set<string>();
      set.add(m[1]!);
      out.set(table, set);
    }
  }
  return out;
}

/**
 * Adds to `text` the deletion of our chains that are installed (`saved`) but no longer declared:
 * each is re-declared (flushed) and then deleted (`-X`) in the same transaction, after the chains
 * that jumped to it have been refilled without that jump.
 */
export function withStaleChainsDeleted(text: string, saved: string): string {
  const wanted = ourChains(text);
  const installed = ourChains(saved);
  const stale = new Map<string, string[]>();
  for (const [table, chains] of installed) {
    const keep = wanted.get(table) ?? new Set<string>();
    const gone = [...chains].filter((c) => !keep.has(c)).sort(cmp);
    if (gone.length) stale.set(table, gone);
  }
  if (stale.size === 0) return text;
  const lines = text.split('\n');
  const out: string[] = [];
  let table = '';
  for (const line of lines) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    if (line === 'COMMIT') {
      for (const c of stale.get(table) ?? []) out.push(`:${c} - [0:0]`);
      for (const c of stale.get(table) ?? []) out.push(`-X ${c}`);
      stale.delete(table);
    }
    out.push(line);
  }
  // Tables we did not write this time but where chains of ours remain.
  const tail: string[] = [];
  for (const [t, chains] of stale) tail.push(`*${t}`, ...chains.map((c) => `:${c} - [0:0]`), ...chains.map((c) => `-X ${c}`), 'COMMIT');
  if (tail.length === 0) return out.join('\n');
  const body = out.join('\n');
  return `${body}${body.endsWith('\n') ? '' : '\n'}${tail.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------

/** `LAB-SVC-` / `LAB-SEP-` plus 16 hex digits of a hash: stable, and within iptables' 28 characters. */
export function chainName(kind: 'SVC' | 'SEP', key: string): string {
  return `${CHAIN_PREFIX}${kind}-${createHash('sha256').update(key).digest('hex').slice(0, 16).toUpperCase()}`;
}

function normalizeProtocol(p: string | undefined): Protocol | undefined {
  const up = (p ?? 'TCP').toUpperCase();
  return up === 'TCP' || up === 'UDP' ? up : undefined;
}

function validPort(p: number): boolean {
  return Number.isInteger(p) && p >= 1 && p <= 65535;
}

/** A restore-file comment argument: double-quoted, with nothing that could end the quote or line. */
function quote(s: string): string {
  return `"${s.replace(/[^A-Za-z0-9 ._:/>-]/g, '_')}"`;
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

function compareIp(a: string, b: string): number {
  return ipToInt(a) - ipToInt(b);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface Cidr {
  base: number;
  bits: number;
}

function parseCidr(cidr: string, what: string): Cidr {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr);
  const bits = Number(m?.[2]);
  if (!m || !isIPv4(m[1]!) || bits > 32) throw new TypeError(`buildServiceRules: ${what} must be an IPv4 CIDR, got ${JSON.stringify(cidr)}`);
  const size = 2 ** (32 - bits);
  return { base: Math.floor(ipToInt(m[1]!) / size) * size, bits };
}

function cidrText(c: Cidr): string {
  const o = [24, 16, 8, 0].map((shift) => Math.floor(c.base / 2 ** shift) % 256);
  return `${o.join('.')}/${c.bits}`;
}

function inCidr(ip: string, c: Cidr): boolean {
  const size = 2 ** (32 - c.bits);
  return Math.floor(ipToInt(ip) / size) * size === c.base;
}
