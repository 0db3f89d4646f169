// The DNS proxy of one pod, composed: the listeners in the pod netns, the handler that answers for
// mesh services in the pod's namespace context, and a forwarder whose upstream sockets are made in
// the same netns with the in-pod mark (the pod's raw rules put them in conntrack zone 1). What all
// pods share (the host catalog, metrics, upstream list) is built once per process by dnsProxyDeps.
import { readFileSync } from 'node:fs';
import type { Logger } from '../../../lib/log/logger.ts';
import type { Registry } from '../../../lib/metrics/registry.ts';
import { connectTcp, UdpSocket, type NetnsRef } from '../../../lib/netns/index.ts';
import { hasChanges, touchedKeys, type StateChange } from '../state/change.ts';
import type { ProxyState } from '../state/proxy-state.ts';
import type { Workload } from '../state/types.ts';
import { Forwarder } from './forwarder.ts';
import { dnsHandler } from './handler.ts';
import { registerDnsMetrics, type DnsMetrics } from './metrics.ts';
import { parseResolvConf, type Upstream } from './resolv-conf.ts';
import { buildHostCatalog, DEFAULT_CLUSTER_DOMAIN, type HostCatalog } from './resolve.ts';
import { startDnsServer, type DnsServer } from './server.ts';

/** Upstream attempts end well inside a stub resolver's own 5 s timeout, so it sees our SERVFAIL. */
const MAX_UPSTREAM_TIMEOUT_MS = 2500;

export interface DnsProxyDeps {
  catalog: () => HostCatalog;
  metrics: DnsMetrics;
  upstreams: readonly Upstream[];
  upstreamTimeoutMs: number;
  clusterDomain: string;
  address: { host: string; port: number };
}

export interface DnsProxyDepsOptions {
  state: ProxyState;
  registry: Registry;
  network: string;
  /** ztunnel's resolv.conf, read once now. */
  resolvConfPath: string;
  address: { host: string; port: number };
  clusterDomain?: string;
  log: Logger;
}

/**
 * Whether a batch can change the host catalog (./resolve.ts buildHostCatalog): any service change;
 * a workload change only where the workload, before or after, backs a service without VIPs (only
 * those answer with endpoint addresses). Policy-only batches never do.
 */
export function catalogAffected(state: Pick<ProxyState, 'findServiceByKey' | 'findWorkloadByUid'>, c: StateChange): boolean {
  if (hasChanges(c.services)) return true;
  const headless = (w: Workload | undefined): boolean =>
    !!w && Object.keys(w.services).some((key) => state.findServiceByKey(key)?.vips.length === 0);
  for (const uid of touchedKeys(c.workloads)) {
    if (headless(state.findWorkloadByUid(uid)) || headless(c.previous.workloads.get(uid))) return true;
  }
  return false;
}

/** The per-process part: metrics registered, upstreams read, and a catalog rebuilt lazily after a change that affects it. */
export function dnsProxyDeps(opts: DnsProxyDepsOptions): DnsProxyDeps {
  let text = '';
  try {
    text = readFileSync(opts.resolvConfPath, 'utf8');
  } catch (err) {
    opts.log.warn({ path: opts.resolvConfPath, err: (err as Error).message }, 'cannot read resolv.conf; forwarding to 127.0.0.1');
  }
  const conf = parseResolvConf(text);
  let catalog: HostCatalog | undefined;
  opts.state.onChange((c) => {
    if (catalogAffected(opts.state, c)) catalog = undefined;
  });
  return {
    catalog: () => (catalog ??= buildHostCatalog(opts.state.services(), (key) => opts.state.serviceEndpoints(key), opts.network)),
    metrics: registerDnsMetrics(opts.registry),
    upstreams: conf.nameservers,
    upstreamTimeoutMs: Math.min(conf.timeoutMs, MAX_UPSTREAM_TIMEOUT_MS),
    clusterDomain: opts.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN,
    address: opts.address,
  };
}

export interface PodDnsOptions {
  /** The pod's netns (a handle: sockets for upstream queries are made long after start). */
  netns: NetnsRef;
  /** SO_MARK of every socket in the pod (the in-pod mark). */
  mark: number;
  /** The client pod's namespace: short names resolve relative to it. */
  namespace: string;
  /** The pod's own workload, for metric labels. */
  self: () => Workload | undefined;
  log: Logger;
}

/** Opens the pod's DNS listeners; throws (typed NetnsError) if they cannot be bound. */
export function startPodDns(deps: DnsProxyDeps, opts: PodDnsOptions): DnsServer {
  const forwarder = new Forwarder({
    upstreams: deps.upstreams,
    timeoutMs: deps.upstreamTimeoutMs,
    sockets: {
      udp: (family) => UdpSocket.open({ netns: opts.netns, family, mark: opts.mark }),
      tcp: (host, port) => connectTcp({ netns: opts.netns, host, port, mark: opts.mark }),
    },
  });
  const handle = dnsHandler({
    catalog: deps.catalog,
    clientNamespace: opts.namespace,
    clusterDomain: deps.clusterDomain,
    forwarder,
    metrics: deps.metrics,
    source: () => {
      const w = opts.self();
      return w ? { canonicalService: w.canonicalName, canonicalRevision: w.canonicalRevision } : undefined;
    },
    log: opts.log,
  });
  return startDnsServer({ netns: opts.netns, address: deps.address.host, port: deps.address.port, mark: opts.mark, reusePort: true, handle, log: opts.log });
}
