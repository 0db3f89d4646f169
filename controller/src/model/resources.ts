// The complete workload-xDS resource set of one snapshot of cluster state (fact sheet §4.2): every
// Address (Workload or Service) and Authorization, under the names ztunnel keys them by, each with
// a version that is a hash of its bytes, so a rebuild leaves unchanged resources at their version
// and the delta server only pushes what changed.
import { createHash } from 'node:crypto';
import type { V1EndpointSlice, V1Namespace, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import {
  ADDRESS_TYPE_URL,
  addressCodec,
  AUTHORIZATION_TYPE_URL,
  authorizationCodec,
  type Any,
  type Authorization,
  type Service,
  type Workload,
} from '../../../lib/proto/index.ts';
import { convertAuthorizationPolicy, selectorPoliciesForWorkload, selectorPolicyRefs } from './authorization.ts';
import { formatIp } from './ip.ts';
import type { Gateway, GatewayClass } from './gateway-types.ts';
import type { AuthorizationPolicy, PeerAuthentication } from './istio-types.ts';
import type { ModelOptions } from './options.ts';
import { peerAuthenticationPolicies, peerAuthenticationPoliciesForWorkload } from './peer-authentication.ts';
import { buildService, namespacedHostname } from './services.ts';
import { waypointLookupFromGateways } from './waypoint-gateways.ts';
import { NO_WAYPOINTS, type WaypointLookup } from './waypoints.ts';
import { buildWorkload } from './workloads.ts';

/** The cluster state the resources are built from (informer caches at one instant). */
export interface ModelSnapshot {
  pods: readonly V1Pod[];
  services: readonly V1Service[];
  namespaces: readonly V1Namespace[];
  nodes?: readonly V1Node[];
  endpointSlices?: readonly V1EndpointSlice[];
  authorizationPolicies?: readonly AuthorizationPolicy[];
  peerAuthentications?: readonly PeerAuthentication[];
  /** Gateway API Gateways; those of class istio-waypoint are the waypoints (unless `waypoints` is given). */
  gateways?: readonly Gateway[];
  /** For the class-level `istio.io/waypoint-for` label. */
  gatewayClasses?: readonly GatewayClass[];
  /** Overrides the lookup built from `gateways` (tests). */
  waypoints?: WaypointLookup;
}

export interface XdsResourceEntry {
  /** Content hash of `resource`: equal bytes, equal version. */
  version: string;
  resource: Any;
  /** Other names ztunnel may subscribe to it by (`<network>/<ip>`), for on-demand xDS. */
  aliases: string[];
}

/** type URL → resource name → resource. */
export type ResourceSet = Map<string, Map<string, XdsResourceEntry>>;

/** Something about an input object the caller should surface (log, metric, object status). */
export interface ModelDiagnostic {
  kind: 'Service' | 'AuthorizationPolicy';
  namespace: string;
  name: string;
  /** `refused`: not sent at all; `warning`: sent, with the noted difference from what it says. */
  severity: 'refused' | 'warning';
  message: string;
}

export interface ResourceSetBuild {
  resources: ResourceSet;
  diagnostics: ModelDiagnostic[];
}

export function workloadResourceName(w: Workload): string {
  return w.uid;
}

export function serviceResourceName(s: Service): string {
  return namespacedHostname(s.namespace, s.hostname);
}

export function authorizationResourceName(a: Authorization): string {
  return `${a.namespace}/${a.name}`;
}

export function workloadAliases(w: Workload): string[] {
  return w.addresses.map((a) => `${w.network}/${formatIp(a)}`);
}

export function serviceAliases(s: Service): string[] {
  return s.addresses.map((a) => `${a.network}/${formatIp(a.address)}${a.length === undefined ? '' : `/${a.length}`}`);
}

/** The version of a resource: a hash of its type and encoded bytes. */
export function resourceVersion(any: Any): string {
  return createHash('sha256').update(any.typeUrl).update('\n').update(any.value).digest('hex').slice(0, 16);
}

function entry(resource: Any, aliases: string[]): XdsResourceEntry {
  return { version: resourceVersion(resource), resource, aliases };
}

export function workloadResource(w: Workload): XdsResourceEntry {
  return entry({ typeUrl: addressCodec.typeUrl, value: addressCodec.encode({ type: { $case: 'workload', workload: w } }) }, workloadAliases(w));
}

export function serviceResource(s: Service): XdsResourceEntry {
  return entry({ typeUrl: addressCodec.typeUrl, value: addressCodec.encode({ type: { $case: 'service', service: s } }) }, serviceAliases(s));
}

export function authorizationResource(a: Authorization): XdsResourceEntry {
  return entry({ typeUrl: authorizationCodec.typeUrl, value: authorizationCodec.encode(a) }, []);
}

function groupByNamespace<T extends { metadata?: { namespace?: string } }>(items: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const it of items) {
    const ns = it.metadata?.namespace ?? '';
    let list = out.get(ns);
    if (!list) out.set(ns, (list = []));
    list.push(it);
  }
  return out;
}

export function buildResourceSet(snapshot: ModelSnapshot, options: ModelOptions): ResourceSetBuild {
  const diagnostics: ModelDiagnostic[] = [];
  const addresses = new Map<string, XdsResourceEntry>();
  const authorizations = new Map<string, XdsResourceEntry>();
  const waypoints = snapshot.waypoints ?? (snapshot.gateways ? waypointLookupFromGateways(snapshot.gateways, snapshot.gatewayClasses) : NO_WAYPOINTS);
  const namespaces = new Map(snapshot.namespaces.map((n) => [n.metadata?.name ?? '', n]));
  const nodes = new Map((snapshot.nodes ?? []).map((n) => [n.metadata?.name ?? '', n]));
  const slicesByNs = groupByNamespace(snapshot.endpointSlices ?? []);
  const authzPolicies = snapshot.authorizationPolicies ?? [];
  const peerAuths = snapshot.peerAuthentications ?? [];

  for (const p of authzPolicies) {
    const r = convertAuthorizationPolicy(p, options);
    const ref = { kind: 'AuthorizationPolicy' as const, namespace: p.metadata.namespace ?? '', name: p.metadata.name ?? '' };
    if (r.kind === 'refused') diagnostics.push({ ...ref, severity: 'refused', message: r.message });
    if (r.kind !== 'converted') continue;
    for (const w of r.warnings) diagnostics.push({ ...ref, severity: 'warning', message: w });
    authorizations.set(authorizationResourceName(r.authorization), authorizationResource(r.authorization));
  }
  for (const a of peerAuthenticationPolicies(peerAuths, options)) authorizations.set(authorizationResourceName(a), authorizationResource(a));

  // Pods are endpoints only of the Services that are sent.
  const sentServices: V1Service[] = [];
  for (const svc of snapshot.services) {
    const ns = svc.metadata?.namespace ?? '';
    const r = buildService(svc, { namespace: namespaces.get(ns), waypoints }, options);
    if (!r.ok) {
      if (r.reason !== 'ExternalName') diagnostics.push({ kind: 'Service', namespace: ns, name: svc.metadata?.name ?? '', severity: 'refused', message: r.message });
      continue;
    }
    sentServices.push(svc);
    addresses.set(serviceResourceName(r.service), serviceResource(r.service));
  }
  const servicesByNs = groupByNamespace(sentServices);

  const selectorRefs = selectorPolicyRefs(authzPolicies, options);
  for (const pod of snapshot.pods) {
    const ns = pod.metadata?.namespace ?? '';
    const labels = pod.metadata?.labels;
    const w = buildWorkload(
      pod,
      {
        namespace: namespaces.get(ns),
        services: servicesByNs.get(ns) ?? [],
        endpointSlices: slicesByNs.get(ns) ?? [],
        node: nodes.get(pod.spec?.nodeName ?? ''),
        authorizationPolicies: [
          ...selectorPoliciesForWorkload(selectorRefs, ns, labels, options.rootNamespace),
          ...peerAuthenticationPoliciesForWorkload(peerAuths, ns, labels, options.rootNamespace),
        ],
        waypoints,
      },
      options,
    );
    if (w) addresses.set(workloadResourceName(w), workloadResource(w));
  }

  return {
    resources: new Map([
      [ADDRESS_TYPE_URL, addresses],
      [AUTHORIZATION_TYPE_URL, authorizations],
    ]),
    diagnostics,
  };
}
