// Pure: whether a waypoint Gateway is one we deploy, and the status the Gateway and the
// istio-waypoint GatewayClass get (reference istio-waypoint.md §1.1, §1.4): conditions with
// observedGeneration, lastTransitionTime kept while a condition's status holds, the addresses ztunnels
// are sent once the waypoint can take traffic, and the `mesh` listener's status.
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import {
  HBONE_PROTOCOL,
  MESH_CONTROLLER_NAME,
  WAYPOINT_GATEWAY_CLASS,
  WAYPOINT_HBONE_PORT,
  type Condition,
  type ConditionStatus,
  type Gateway,
  type GatewayClass,
  type GatewayStatus,
  type GatewayStatusAddress,
  type ListenerStatus,
} from '../model/index.ts';
import { SERVICE_NAME_LABEL, USE_WAYPOINT_NONE } from '../model/labels.ts';

export const LISTENER_MESSAGE = 'Expected a single listener on port 15008 with protocol "HBONE"';
const NO_ERRORS = 'No errors found';

/**
 * Gateway API reasons: `ListenersNotValid` for a listener we cannot serve, `Invalid` for the reserved
 * name. Istio itself leaves such a Gateway Accepted=True (only the listener is refused) and still
 * deploys it; we refuse the whole Gateway and deploy nothing, so nobody binds to a waypoint that
 * cannot take HBONE.
 */
export type WaypointValidation =
  | { kind: 'valid' }
  | { kind: 'invalid'; reason: 'ListenersNotValid' | 'Invalid'; message: string; listenersValid: boolean };

function listenersValid(gw: Gateway): boolean {
  const ls = gw.spec?.listeners ?? [];
  return ls.length === 1 && ls[0]!.port === WAYPOINT_HBONE_PORT && ls[0]!.protocol === HBONE_PROTOCOL;
}

export function validateWaypointGateway(gw: Gateway): WaypointValidation {
  const okListeners = listenersValid(gw);
  if (gw.metadata.name === USE_WAYPOINT_NONE) {
    return { kind: 'invalid', reason: 'Invalid', message: 'the waypoint name "none" is reserved (istio.io/use-waypoint: none opts out of waypoints)', listenersValid: okListeners };
  }
  if (!okListeners) return { kind: 'invalid', reason: 'ListenersNotValid', message: LISTENER_MESSAGE, listenersValid: false };
  return { kind: 'valid' };
}

/** What the cluster shows of the waypoint's Service: its cluster IPs and the ready HBONE endpoints. */
export interface WaypointServiceView {
  clusterIPs: string[];
  readyEndpoints: number;
}

export function waypointServiceView(svc: V1Service | undefined, slices: readonly V1EndpointSlice[]): WaypointServiceView | undefined {
  if (!svc) return undefined;
  const name = svc.metadata?.name;
  const ns = svc.metadata?.namespace;
  const ips = svc.spec?.clusterIPs?.length ? svc.spec.clusterIPs : svc.spec?.clusterIP ? [svc.spec.clusterIP] : [];
  let ready = 0;
  for (const s of slices) {
    if (s.metadata?.namespace !== ns || s.metadata?.labels?.[SERVICE_NAME_LABEL] !== name) continue;
    if (!(s.ports ?? []).some((p) => p.port === WAYPOINT_HBONE_PORT)) continue;
    // EndpointSlice: an unset `ready` means ready.
    for (const e of s.endpoints ?? []) if (e.conditions?.ready !== false && e.addresses.length > 0) ready++;
  }
  return { clusterIPs: ips.filter((ip) => ip && ip !== 'None'), readyEndpoints: ready };
}

/** RFC 3339 at second precision, as metav1.Time is written. */
export function conditionTime(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

type ConditionSpec = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>;

/** Conditions with observedGeneration; lastTransitionTime is kept from `previous` while the status is the same. */
function withTimes(specs: readonly ConditionSpec[], previous: readonly Condition[] | undefined, generation: number | undefined, now: Date): Condition[] {
  return specs.map((c) => {
    const old = previous?.find((p) => p.type === c.type);
    return {
      ...c,
      ...(generation === undefined ? {} : { observedGeneration: generation }),
      lastTransitionTime: old && old.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : conditionTime(now),
    };
  });
}

const cond = (type: string, status: ConditionStatus, reason: string, message: string): ConditionSpec => ({ type, status, reason, message });

export interface GatewayStatusInput {
  gateway: Gateway;
  validation: WaypointValidation;
  /** Undefined: the Service does not exist (yet). */
  service: WaypointServiceView | undefined;
  domainSuffix: string;
  now: Date;
}

/**
 * Programmed, and the addresses, need a cluster IP AND a ready endpoint on 15008: we wait for a ready
 * waypoint pod before telling users and ztunnels the waypoint is usable, where istiod is content with
 * the Service existing (it tolerates missing endpoints as sync lag). Otherwise ztunnels would send
 * service traffic to a waypoint that cannot answer yet, and fail those connections.
 */
export function desiredGatewayStatus(input: GatewayStatusInput): GatewayStatus {
  const { gateway: gw, validation: v, service, now } = input;
  const name = gw.metadata.name ?? '';
  const ns = gw.metadata.namespace ?? '';
  const generation = gw.metadata.generation;
  const hostname = `${name}.${ns}.svc.${input.domainSuffix}`;
  const previous = gw.status;

  let accepted: ConditionSpec;
  let programmed: ConditionSpec;
  let addresses: GatewayStatusAddress[] | undefined;
  if (v.kind === 'invalid') {
    accepted = cond('Accepted', 'False', v.reason, v.message);
    programmed = cond('Programmed', 'False', 'Invalid', `Not deployed: ${v.message}`);
  } else {
    accepted = cond('Accepted', 'True', 'Accepted', 'Resource accepted');
    const unusable = (why: string) => cond('Programmed', 'False', 'AddressNotUsable', `Failed to assign to any requested addresses: ${why}`);
    if (!service) programmed = unusable(`hostname "${hostname}" not found`);
    else if (service.clusterIPs.length === 0) programmed = unusable(`hostname "${hostname}" has no cluster IP yet`);
    else if (service.readyEndpoints === 0) programmed = unusable(`no ready instances found for hostname "${hostname}" port ${WAYPOINT_HBONE_PORT}`);
    else {
      programmed = cond('Programmed', 'True', 'Programmed', `Resource programmed, assigned to service(s) ${hostname}:${WAYPOINT_HBONE_PORT}`);
      addresses = [...service.clusterIPs.map((ip) => ({ type: 'IPAddress', value: ip })), { type: 'Hostname', value: hostname }];
    }
    // Once reported, addresses stay while the waypoint is not ready (a rollout, a pod restart):
    // bindings do not flap with the waypoint's readiness.
    if (!addresses && previous?.addresses?.length) addresses = previous.addresses;
  }
  const conditions = withTimes([accepted, programmed, cond('ResolvedRefs', 'True', 'ResolvedRefs', 'All references resolved')], previous?.conditions, generation, now);

  const okListeners = v.kind === 'valid' || v.listenersValid;
  const listeners: ListenerStatus[] = (gw.spec?.listeners ?? []).map((l) => {
    const specs = okListeners
      ? [cond('Accepted', 'True', 'Accepted', NO_ERRORS), cond('Conflicted', 'False', 'NoConflicts', NO_ERRORS), cond('Programmed', 'True', 'Programmed', NO_ERRORS), cond('ResolvedRefs', 'True', 'ResolvedRefs', NO_ERRORS)]
      : [cond('Accepted', 'False', 'UnsupportedProtocol', LISTENER_MESSAGE), cond('Conflicted', 'False', 'NoConflicts', NO_ERRORS), cond('Programmed', 'False', 'Invalid', LISTENER_MESSAGE), cond('ResolvedRefs', 'True', 'ResolvedRefs', NO_ERRORS)];
    const old = previous?.listeners?.find((p) => p.name === l.name);
    return { name: l.name, supportedKinds: [], attachedRoutes: 0, conditions: withTimes(specs, old?.conditions, generation, now) };
  });
  return { ...(addresses ? { addresses } : {}), conditions, listeners };
}

/** Key-order independent comparison of the status fields we own. */
export function sameGatewayStatus(a: GatewayStatus | undefined, b: GatewayStatus | undefined): boolean {
  const pick = (s: GatewayStatus | undefined) => canonical({ addresses: s?.addresses ?? [], conditions: s?.conditions ?? [], listeners: s?.listeners ?? [] });
  return pick(a) === pick(b);
}

export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The class istiod creates when it is absent (and only then). */
export function waypointGatewayClass(): GatewayClass {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'GatewayClass',
    metadata: { name: WAYPOINT_GATEWAY_CLASS },
    spec: { controllerName: MESH_CONTROLLER_NAME, description: 'The default Istio waypoint GatewayClass' },
  };
}

/** Our class status, or undefined when the class belongs to another controller. */
export function desiredGatewayClassStatus(gc: GatewayClass, now: Date): { conditions: Condition[] } | undefined {
  if (gc.spec?.controllerName !== MESH_CONTROLLER_NAME) return undefined;
  return { conditions: withTimes([cond('Accepted', 'True', 'Accepted', 'Handled by Istio controller')], gc.status?.conditions, gc.metadata.generation, now) };
}

export function sameConditions(a: readonly Condition[] | undefined, b: readonly Condition[] | undefined): boolean {
  return canonical(a ?? []) === canonical(b ?? []);
}
