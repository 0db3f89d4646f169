// Pure: what reconciling one waypoint Gateway takes, given what the informer caches show: which of
// its ServiceAccount/Deployment/Service to (re)apply and the Gateway status to write, if it changed.
import type { KubernetesObject, V1Deployment, V1EndpointSlice, V1Service, V1ServiceAccount } from '@kubernetes/client-node';
import { MESH_CONTROLLER_NAME, WAYPOINT_GATEWAY_CLASS, type Gateway, type GatewayClass, type GatewayStatus } from '../model/index.ts';
import { renderWaypoint, type WaypointRenderOptions } from './render.ts';
import { desiredGatewayStatus, sameGatewayStatus, validateWaypointGateway, waypointServiceView, type WaypointValidation } from './status.ts';

export interface GatewayObserved {
  gatewayClass?: GatewayClass;
  serviceAccount?: V1ServiceAccount;
  deployment?: V1Deployment;
  service?: V1Service;
  /** EndpointSlices of the Gateway's namespace (or more; filtered by the Service name). */
  endpointSlices: readonly V1EndpointSlice[];
}

export interface DesiredObject {
  object: KubernetesObject;
  /** Missing, or a field we set differs in the cluster (someone changed or deleted it). */
  drifted: boolean;
}

export type GatewayPlan =
  /** Not ours: another class, a class of another controller, or being deleted (GC takes the objects). */
  | { kind: 'ignore'; why: string }
  | { kind: 'reconcile'; validation: WaypointValidation; objects: DesiredObject[]; status?: GatewayStatus };

/**
 * Whether every field of `want` is in `have` with the same value (arrays element by element). The
 * apiserver adds defaults (protocol, scheme, defaultMode…), so equality would always differ; fields
 * only we set are what server-side apply makes ours.
 */
export function isSubset(want: unknown, have: unknown): boolean {
  if (Array.isArray(want)) {
    if (!Array.isArray(have) || have.length < want.length) return false;
    return want.every((w, i) => isSubset(w, have[i]));
  }
  if (want && typeof want === 'object') {
    if (!have || typeof have !== 'object' || Array.isArray(have)) return false;
    return Object.entries(want as Record<string, unknown>).every(([k, w]) => w === undefined || isSubset(w, (have as Record<string, unknown>)[k]));
  }
  return want === have;
}

export function planGateway(gw: Gateway, observed: GatewayObserved, render: WaypointRenderOptions, now: Date): GatewayPlan {
  if (gw.spec?.gatewayClassName !== WAYPOINT_GATEWAY_CLASS) return { kind: 'ignore', why: 'not a waypoint' };
  if (gw.metadata.deletionTimestamp) return { kind: 'ignore', why: 'being deleted' };
  const ctrl = observed.gatewayClass?.spec?.controllerName;
  if (ctrl !== undefined && ctrl !== MESH_CONTROLLER_NAME) return { kind: 'ignore', why: `class ${WAYPOINT_GATEWAY_CLASS} is handled by ${ctrl}` };

  const validation = validateWaypointGateway(gw);
  const objects: DesiredObject[] = [];
  if (validation.kind === 'valid') {
    const r = renderWaypoint(gw, render);
    // Dependencies first: the pods need the ServiceAccount.
    objects.push({ object: r.serviceAccount, drifted: !isSubset(r.serviceAccount.metadata, observed.serviceAccount?.metadata) });
    objects.push({ object: r.deployment, drifted: !isSubset({ metadata: r.deployment.metadata, spec: r.deployment.spec }, observed.deployment) });
    objects.push({ object: r.service, drifted: !isSubset({ metadata: r.service.metadata, spec: r.service.spec }, observed.service) });
  }
  const status = desiredGatewayStatus({
    gateway: gw,
    validation,
    // A Service left from before the Gateway turned invalid does not make it programmed.
    service: validation.kind === 'valid' ? waypointServiceView(observed.service, observed.endpointSlices) : undefined,
    domainSuffix: render.domainSuffix,
    now,
  });
  return { kind: 'reconcile', validation, objects, ...(sameGatewayStatus(gw.status, status) ? {} : { status }) };
}
