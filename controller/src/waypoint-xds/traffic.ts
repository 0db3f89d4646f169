// Traffic management for one waypoint's service ports: binds VirtualServices and Gateway API routes
// to each port (route-sources.ts), translates their http/tcp routes (http-routes.ts), resolves
// destinations to clusters (`inbound-vip|<port>|http[/<subset>]|<host>` for Services this waypoint
// serves, `outbound|<port>|<subset>|<host>` otherwise) and applies DestinationRules (subsets with
// their own endpoints, load balancer, connection pool, outlier detection). The result rides on each
// ServicePortPlan as `traffic`, which the cluster/route/listener/EDS builders read.
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import type { ModelOptions } from '../model/options.ts';
import type { WaypointKey } from './bindings.ts';
import { clusterSettings, destinationRuleFor, hashPolicies, portPolicy, subsetNames, subsetPolicy, subsetSelects, type ClusterSettings } from './destination-rule.ts';
import { DiagnosticSink, type TrafficDiagnostic } from './diagnostics.ts';
import { durationOf, parseDurationMs } from './durations.ts';
import { gatewayRouteSources } from './gateway-api.ts';
import { translateHttpRoutes, type ResolvedDestination } from './http-routes.ts';
import type { PortTraffic, ServicePortPlan, SubsetPlan } from './plan.ts';
import { httpSourceFor, resolveHost, tcpSourceFor, type RouteSource } from './route-sources.ts';
import { byCreation, type DestinationRule, type ObjectWithMeta, type TrafficObjects } from './traffic-types.ts';

/** `inbound-vip|<port>|<chain>[/<subset>]|<host>`. */
export function inboundVipSubsetName(port: number, chain: 'http' | 'tcp', subset: string | undefined, host: string): string {
  return `inbound-vip|${port}|${chain}${subset ? `/${subset}` : ''}|${host}`;
}

/** `outbound|<port>|<subset>|<host>`: a destination this waypoint does not serve. */
export function outboundName(port: number, subset: string | undefined, host: string): string {
  return `outbound|${port}|${subset ?? ''}|${host}`;
}

/** Every VirtualService and Gateway API route as route sources, in Istio's order (oldest first). */
export function routeSources(objects: TrafficObjects, domainSuffix: string): RouteSource[] {
  const items: { obj: ObjectWithMeta; sources: RouteSource[] }[] = [];
  for (const vs of objects.virtualServices ?? []) {
    const ns = vs.metadata.namespace ?? '';
    const gws = vs.spec?.gateways ?? [];
    // A VirtualService for gateways only (no `mesh`) does not configure mesh traffic.
    if (gws.length && !gws.includes('mesh')) continue;
    items.push({
      obj: vs,
      sources: [{ kind: 'VirtualService', namespace: ns, name: vs.metadata.name ?? '', hosts: (vs.spec?.hosts ?? []).map((h) => resolveHost(h, ns, domainSuffix)), http: vs.spec?.http ?? [], tcp: vs.spec?.tcp ?? [], gatewayApi: false }],
    });
  }
  for (const route of objects.httpRoutes ?? []) items.push({ obj: route, sources: gatewayRouteSources({ kind: 'HTTPRoute', route }, domainSuffix) });
  for (const route of objects.grpcRoutes ?? []) items.push({ obj: route, sources: gatewayRouteSources({ kind: 'GRPCRoute', route }, domainSuffix) });
  items.sort((a, b) => byCreation(a.obj, b.obj));
  return items.flatMap((i) => i.sources);
}

export interface TrafficInput extends TrafficObjects {
  services: readonly V1Service[];
  pods: readonly V1Pod[];
}

function podLabelIndex(pods: readonly V1Pod[]): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const p of pods) {
    const ips = p.status?.podIPs?.map((x) => x.ip) ?? (p.status?.podIP ? [p.status.podIP] : []);
    for (const ip of ips) out.set(`${p.metadata?.namespace ?? ''}/${ip}`, p.metadata?.labels ?? {});
  }
  return out;
}

/** The plans with their `traffic`, and what translation had to report. */
export function planTraffic(plans: readonly ServicePortPlan[], input: TrafficInput, waypoint: WaypointKey, options: ModelOptions): { plans: ServicePortPlan[]; outbound: OutboundCluster[]; diagnostics: TrafficDiagnostic[] } {
  const sink = new DiagnosticSink();
  const suffix = options.domainSuffix;
  const sources = routeSources(input, suffix);
  const rules: readonly DestinationRule[] = input.destinationRules ?? [];
  const servicesByHost = new Map(input.services.map((s) => [`${s.metadata?.name ?? ''}.${s.metadata?.namespace ?? ''}.svc.${suffix}`, s]));
  const owned = new Map(plans.map((p) => [`${p.host}:${p.port}`, p]));
  const drOf = new Map<string, DestinationRule | undefined>();
  const ruleFor = (host: string, ns: string) => {
    if (!drOf.has(host)) drOf.set(host, destinationRuleFor(host, ns, rules, options.rootNamespace, suffix));
    return drOf.get(host);
  };
  const podLabels = podLabelIndex(input.pods);
  const outbound = new Map<string, OutboundCluster>();

  const destinationFor = (listenerPort: number) => (d: { host: string; subset?: string; port?: { number?: number } }, source: RouteSource, chain: 'http' | 'tcp'): ResolvedDestination => {
    const host = resolveHost(d.host, source.namespace, suffix);
    const svc = servicesByHost.get(host);
    const svcPorts = svc?.spec?.ports ?? [];
    const port = d.port?.number ?? (svcPorts.length === 1 ? svcPorts[0]!.port : listenerPort);
    const plan = owned.get(`${host}:${port}`);
    const report = (reason: string, message: string) => sink.add({ kind: source.kind, namespace: source.namespace, name: source.name, severity: 'warning', reason, message });
    if (!plan) {
      const name = outboundName(port, d.subset, host);
      if (!svc) {
        report('missing-service', `destination ${d.host} (${host}) does not exist; requests routed to it fail (${source.gatewayApi ? '500' : '503'})`);
        return { cluster: name, found: false, hashPolicy: [] };
      }
      if (!(svc.spec?.ports ?? []).some((sp) => sp.port === port)) {
        report('missing-service', `destination ${host} has no port ${port}; requests routed to it fail (${source.gatewayApi ? '500' : '503'})`);
        return { cluster: name, found: false, hashPolicy: [] };
      }
      const svcNs = svc.metadata?.namespace ?? '';
      const odr = ruleFor(host, svcNs);
      if (d.subset && (!odr || !subsetNames(odr).includes(d.subset))) {
        report('unknown-subset', `destination ${host} subset ${JSON.stringify(d.subset)} is not defined by any DestinationRule; requests routed to it get 503`);
        return { cluster: name, found: false, hashPolicy: [] };
      }
      // A Service this waypoint does not serve: an `outbound|…` cluster of its endpoints (istiod builds those only when referenced).
      const policy = odr ? (d.subset ? subsetPolicy(odr, d.subset, port) : portPolicy(odr, port)) : undefined;
      if (!outbound.has(name)) {
        const origin = odr ? { sink, namespace: odr.metadata.namespace ?? '', name: odr.metadata.name ?? '' } : undefined;
        const labels = d.subset ? odr?.spec?.subsets?.find((x) => x.name === d.subset)?.labels : undefined;
        outbound.set(name, { name, service: svc, port, chain, settings: clusterSettings(policy, origin), ...(labels ? { subsetLabels: labels } : {}) });
      }
      return { cluster: name, found: true, hashPolicy: chain === 'http' ? hashPolicies(policy?.loadBalancer) : [] };
    }
    const dr = plan ? ruleFor(host, plan.namespace) : undefined;
    if (d.subset && (!dr || !subsetNames(dr).includes(d.subset))) {
      report('unknown-subset', `destination ${host} subset ${JSON.stringify(d.subset)} is not defined by any DestinationRule; requests routed to it get 503`);
      return { cluster: inboundVipSubsetName(port, chain, d.subset, host), found: false, hashPolicy: [] };
    }
    const policy = dr ? (d.subset ? subsetPolicy(dr, d.subset, port) : portPolicy(dr, port)) : undefined;
    return { cluster: inboundVipSubsetName(port, chain, d.subset, host), found: true, hashPolicy: chain === 'http' ? hashPolicies(policy?.loadBalancer) : [] };
  };

  const out = plans.map((p): ServicePortPlan => {
    const dr = ruleFor(p.host, p.namespace);
    const origin = dr ? { sink, namespace: dr.metadata.namespace ?? '', name: dr.metadata.name ?? '' } : undefined;
    const subsets: SubsetPlan[] = (dr?.spec?.subsets ?? [])
      .filter((s) => s.name)
      .map((s) => ({
        name: s.name,
        endpoints: p.endpoints.filter((e) => subsetSelects(s.labels, podLabels.get(`${p.namespace}/${e.ip}`))),
        settings: clusterSettings(subsetPolicy(dr!, s.name, p.port), origin),
      }));
    const portSections = portPolicy(dr, p.port);
    const traffic: PortTraffic = { settings: clusterSettings(portSections, origin), subsets };
    const idleMs = parseDurationMs(portSections?.connectionPool?.tcp?.idleTimeout);
    if (idleMs !== undefined) traffic.tcpIdleTimeout = durationOf(idleMs);
    const ctx = { host: p.host, port: p.port, grpc: p.protocol.grpc, sink, destination: destinationFor(p.port) };
    if (p.chains.http) {
      const src = httpSourceFor(sources, p.host, p.port, p.namespace, waypoint.namespace);
      if (src) traffic.httpRoutes = translateHttpRoutes(src, ctx);
    }
    if (p.chains.tcp) {
      const t = tcpSourceFor(sources, p.host, p.port, p.namespace, waypoint.namespace);
      if (t) {
        const dests = t.route.route ?? [];
        const picked = dests.length === 1 ? dests : dests.filter((d) => (d.weight ?? 0) > 0);
        if (picked.length === 0) sink.add({ kind: t.source.kind, namespace: t.source.namespace, name: t.source.name, severity: 'refused', reason: 'invalid-weights', message: 'tcp route without a destination of positive weight; left out' });
        else traffic.tcpClusters = picked.map((d) => ({ name: ctx.destination(d.destination, t.source, 'tcp').cluster, weight: dests.length === 1 ? 1 : d.weight ?? 0 }));
      }
    }
    return { ...p, traffic };
  });
  return { plans: out, outbound: [...outbound.values()], diagnostics: sink.list };
}

/**
 * An `outbound|<port>|<subset>|<host>` cluster: a destination of some route that this waypoint does
 * not serve. Its endpoints are the Service's pods (the subset's, with subsetLabels), reached
 * directly (HBONE for mesh pods), not through a waypoint of their own.
 */
export interface OutboundCluster {
  name: string;
  service: V1Service;
  port: number;
  chain: 'http' | 'tcp';
  settings: ClusterSettings;
  subsetLabels?: Readonly<Record<string, string>>;
}

/** The outbound clusters as plans the cluster and EDS builders take: the port's plan with the subset as its one SubsetPlan. */
export function outboundPlans(clusters: readonly OutboundCluster[], portPlans: (svc: V1Service) => readonly ServicePortPlan[], podLabels: ReadonlyMap<string, Record<string, string>>): { name: string; plan: ServicePortPlan; chain: 'http' | 'tcp'; subset: SubsetPlan }[] {
  const out: { name: string; plan: ServicePortPlan; chain: 'http' | 'tcp'; subset: SubsetPlan }[] = [];
  for (const c of clusters) {
    const plan = portPlans(c.service).find((p) => p.port === c.port);
    if (!plan) continue;
    const endpoints = c.subsetLabels ? plan.endpoints.filter((e) => subsetSelects(c.subsetLabels, podLabels.get(`${plan.namespace}/${e.ip}`))) : plan.endpoints;
    out.push({ name: c.name, plan, chain: c.chain, subset: { name: '', endpoints, settings: c.settings } });
  }
  return out;
}

export { podLabelIndex };
