// Pod → istio.workload.Workload (fact sheet §4.6): identity, addresses, tunnel protocol, the
// Services it is an endpoint of (with named target ports resolved against its containers), the
// policies that select it, its waypoint and locality. Every pod with an IP gets one, enrolled in
// ambient or not: ztunnel needs non-mesh destinations too, sent with tunnel protocol NONE.
import type { V1EndpointSlice, V1Namespace, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import { AppProtocol, NetworkMode, TunnelProtocol, WorkloadStatus, WorkloadType, type Locality, type PortList, type Workload } from '../../../lib/proto/index.ts';
import { parseIp } from './ip.ts';
import {
  AMBIENT_REDIRECTION_ANNOTATION,
  AMBIENT_REDIRECTION_ENABLED,
  CANONICAL_NAME_LABELS,
  CANONICAL_REVISION_DEFAULT,
  CANONICAL_REVISION_LABELS,
  DEPLOYMENT_CONFIG_LABEL,
  firstLabel,
  GATEWAY_NAME_LABEL,
  POD_TEMPLATE_HASH_LABEL,
  ROLLOUTS_POD_TEMPLATE_HASH_LABEL,
  SERVICE_NAME_LABEL,
  TOPOLOGY_REGION_LABEL,
  TOPOLOGY_SUBZONE_LABEL,
  TOPOLOGY_ZONE_LABEL,
  TUNNEL_HTTP,
  TUNNEL_LABEL,
  WORKLOAD_NAME_LABEL,
  type Labels,
} from './labels.ts';
import type { ModelOptions } from './options.ts';
import { gatewayAddress, NO_WAYPOINTS, waypointForWorkload, type WaypointLookup } from './waypoints.ts';
import { namespacedHostname, serviceHostname, serviceSelectsPod } from './services.ts';

export interface PodContext {
  /** The pod's Namespace (its `istio.io/use-waypoint` label applies to the pod). */
  namespace?: V1Namespace;
  /** Services of the pod's namespace (others are ignored); ExternalName ones never have endpoints. */
  services?: readonly V1Service[];
  /** EndpointSlices of the pod's namespace: how selector-less Services list the pod. */
  endpointSlices?: readonly V1EndpointSlice[];
  /** The pod's Node, for locality. */
  node?: V1Node;
  /** `ns/name` of the policies that apply to this pod by name (authorization.ts, peer-authentication.ts). */
  authorizationPolicies?: readonly string[];
  waypoints?: WaypointLookup;
}

/** `<cluster>//Pod/<ns>/<name>`: the workload's uid and resource name. */
export function podUid(clusterId: string, namespace: string, name: string): string {
  return `${clusterId}//Pod/${namespace}/${name}`;
}

/** Failed and Succeeded pods are gone for traffic purposes. */
export function isTerminalPod(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  return phase === 'Failed' || phase === 'Succeeded';
}

/** `status.podIPs`, else `status.podIP`. */
export function podIps(pod: V1Pod): string[] {
  const ips = pod.status?.podIPs?.map((p) => p.ip) ?? [];
  if (ips.length > 0) return ips;
  return pod.status?.podIP ? [pod.status.podIP] : [];
}

function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
}

/** Trailing `-<8 to 10 digits>`: the schedule timestamp a CronJob appends to its Jobs' names. */
const CRONJOB_JOB_NAME = /^(.+)-\d{8,10}$/;

/**
 * The name of the workload that owns the pod, as Istio derives it for telemetry: the
 * `service.istio.io/workload-name` label, else (for generated pod names) the controlling owner with a
 * ReplicaSet mapped to its Deployment (or Argo Rollout), an OpenShift ReplicationController to its
 * DeploymentConfig and a CronJob's Job to its CronJob; else the pod's own name.
 */
export function workloadNameOf(pod: V1Pod): string {
  const labels = pod.metadata?.labels ?? {};
  const override = labels[WORKLOAD_NAME_LABEL];
  if (override !== undefined) return override;
  const podName = pod.metadata?.name ?? '';
  if (!pod.metadata?.generateName) return podName;
  const owner = pod.metadata.ownerReferences?.find((r) => r.controller === true);
  if (!owner) return podName;
  let name = owner.name;
  const hash = labels[POD_TEMPLATE_HASH_LABEL];
  const rolloutsHash = labels[ROLLOUTS_POD_TEMPLATE_HASH_LABEL];
  if (owner.kind === 'ReplicaSet' && hash && owner.name.endsWith(hash)) {
    name = trimSuffix(owner.name, `-${hash}`);
  } else if (owner.kind === 'ReplicaSet' && rolloutsHash && owner.name.endsWith(rolloutsHash)) {
    name = trimSuffix(owner.name, `-${rolloutsHash}`);
  } else if (owner.kind === 'ReplicationController' && labels[DEPLOYMENT_CONFIG_LABEL]) {
    name = labels[DEPLOYMENT_CONFIG_LABEL];
  } else if (owner.kind === 'Job') {
    const m = CRONJOB_JOB_NAME.exec(owner.name);
    if (m) name = m[1]!;
  }
  return name || podName;
}

function trimSuffix(s: string, suffix: string): string {
  return s.endsWith(suffix) ? s.slice(0, s.length - suffix.length) : s;
}

/** Canonical service name and revision labels, falling back to the workload name and `latest`. */
export function canonicalService(labels: Labels | undefined, workloadName: string): { name: string; revision: string } {
  return {
    name: firstLabel(labels, CANONICAL_NAME_LABELS) ?? workloadName,
    revision: firstLabel(labels, CANONICAL_REVISION_LABELS) ?? CANONICAL_REVISION_DEFAULT,
  };
}

/** HBONE once the CNI has captured the pod, or when the pod terminates HBONE itself (native tunnel). */
export function tunnelOf(pod: V1Pod): { tunnelProtocol: TunnelProtocol; nativeTunnel: boolean } {
  const tunnels = pod.metadata?.labels?.[TUNNEL_LABEL];
  if (tunnels !== undefined && tunnels.split(',').includes(TUNNEL_HTTP)) return { tunnelProtocol: TunnelProtocol.HBONE, nativeTunnel: true };
  if (pod.metadata?.annotations?.[AMBIENT_REDIRECTION_ANNOTATION] === AMBIENT_REDIRECTION_ENABLED) return { tunnelProtocol: TunnelProtocol.HBONE, nativeTunnel: false };
  return { tunnelProtocol: TunnelProtocol.NONE, nativeTunnel: false };
}

/** Region/zone/subzone from the node's topology labels; undefined when it has none. */
export function nodeLocality(node: V1Node | undefined): Locality | undefined {
  const labels = node?.metadata?.labels ?? {};
  const region = labels[TOPOLOGY_REGION_LABEL] ?? '';
  const zone = labels[TOPOLOGY_ZONE_LABEL] ?? '';
  const subzone = labels[TOPOLOGY_SUBZONE_LABEL] ?? '';
  return region || zone || subzone ? { region, zone, subzone } : undefined;
}

/**
 * A named container port of the pod (TCP only), searched in its containers and then in its native
 * sidecars (init containers with restartPolicy Always).
 */
export function findContainerPort(pod: V1Pod, name: string): number | undefined {
  const spec = pod.spec;
  const containers = [...(spec?.containers ?? []), ...(spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always')];
  for (const c of containers) {
    for (const p of c.ports ?? []) {
      // The apiserver defaults protocol to TCP.
      if (p.name === name && (p.protocol ?? 'TCP') === 'TCP') return p.containerPort;
    }
  }
  return undefined;
}

/**
 * The ports a Service reaches this pod on: every service port, with a named target port resolved
 * against the pod's container ports; a named port the pod does not have is left out.
 */
export function servicePortsForPod(svc: V1Service, pod: V1Pod): PortList {
  const ports: PortList['ports'] = [];
  for (const p of svc.spec?.ports ?? []) {
    const t = p.targetPort;
    let targetPort: number;
    if (typeof t === 'string') {
      const resolved = findContainerPort(pod, t);
      if (resolved === undefined) continue;
      targetPort = resolved;
    } else {
      targetPort = t ?? p.port;
    }
    ports.push({ servicePort: p.port, targetPort, appProtocol: AppProtocol.UNKNOWN });
  }
  return { ports };
}

/** Services of the pod: selected by their selector, or listing the pod in one of their EndpointSlices. */
export function servicesOfPod(pod: V1Pod, ctx: PodContext): V1Service[] {
  const ns = pod.metadata?.namespace ?? '';
  const candidates = (ctx.services ?? []).filter((s) => s.metadata?.namespace === ns && s.spec?.type !== 'ExternalName');
  const found = candidates.filter((s) => serviceSelectsPod(s, pod.metadata?.labels));
  const have = new Set(found.map((s) => s.metadata?.name));
  for (const slice of ctx.endpointSlices ?? []) {
    if (slice.metadata?.namespace !== ns || slice.addressType === 'FQDN') continue;
    const svcName = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (svcName === undefined || have.has(svcName)) continue;
    const listsPod = (slice.endpoints ?? []).some((e) => {
      const r = e.targetRef;
      return r?.kind === 'Pod' && r.namespace === ns && r.name === pod.metadata?.name && (r.uid ?? '') === (pod.metadata?.uid ?? '');
    });
    if (!listsPod) continue;
    const svc = candidates.find((s) => s.metadata?.name === svcName);
    if (svc) {
      found.push(svc);
      have.add(svcName);
    }
  }
  return found;
}

/** The Workload of a pod, or undefined for pods that carry no traffic (terminal, or no valid IP yet). */
export function buildWorkload(pod: V1Pod, ctx: PodContext, options: ModelOptions): Workload | undefined {
  if (isTerminalPod(pod)) return undefined;
  const ips = podIps(pod);
  if (ips.length === 0) return undefined;
  const addresses: Uint8Array[] = [];
  for (const ip of ips) {
    const b = parseIp(ip);
    if (!b) return undefined;
    addresses.push(b);
  }
  const meta = pod.metadata ?? {};
  const name = meta.name ?? '';
  const namespace = meta.namespace ?? '';
  const workloadName = workloadNameOf(pod);
  const canonical = canonicalService(meta.labels, workloadName);

  const services: Record<string, PortList> = {};
  const svcs = servicesOfPod(pod, ctx).map((s) => ({ key: namespacedHostname(namespace, serviceHostname(s.metadata?.name ?? '', namespace, options.domainSuffix)), s }));
  // Sorted keys: map entries are encoded in insertion order, and the resource version hashes the bytes.
  svcs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const { key, s } of svcs) services[key] = servicePortsForPod(s, pod);

  const lookup = ctx.waypoints ?? NO_WAYPOINTS;
  // A waypoint's own pods never send their traffic to a waypoint.
  const gatewayName = meta.labels?.[GATEWAY_NAME_LABEL];
  const isWaypointInstance = gatewayName !== undefined && gatewayName !== '' && lookup(namespace, gatewayName) !== undefined;
  const bound = isWaypointInstance ? undefined : waypointForWorkload(meta, ctx.namespace, lookup);
  const waypoint = bound ? gatewayAddress(bound, options.network) : undefined;
  const locality = nodeLocality(ctx.node);

  return {
    uid: podUid(options.clusterId, namespace, name),
    name,
    namespace,
    addresses,
    hostname: '',
    network: options.network,
    ...tunnelOf(pod),
    trustDomain: options.trustDomain === 'cluster.local' ? '' : options.trustDomain,
    serviceAccount: pod.spec?.serviceAccountName || 'default',
    // ztunnel matches its node's pods by this name: always the scheduler's nodeName.
    node: pod.spec?.nodeName ?? '',
    canonicalName: canonical.name,
    canonicalRevision: canonical.revision,
    // Always POD, for ztunnels that still read it; workload_name carries the owner.
    workloadType: WorkloadType.POD,
    workloadName,
    services,
    authorizationPolicies: [...(ctx.authorizationPolicies ?? [])],
    status: isReady(pod) && !meta.deletionTimestamp ? WorkloadStatus.HEALTHY : WorkloadStatus.UNHEALTHY,
    clusterId: options.clusterId,
    networkMode: pod.spec?.hostNetwork ? NetworkMode.HOST_NETWORK : NetworkMode.STANDARD,
    extensions: [],
    ...(waypoint ? { waypoint } : {}),
    ...(locality ? { locality } : {}),
  };
}
