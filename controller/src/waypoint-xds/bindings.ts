// Who is who between waypoints and the rest: which waypoint a connected proxy is (from its xDS
// node, as Istio's waypoint announces itself) and which Services a waypoint serves (the model's
// own binding rule, model/waypoints.ts, so ztunnel and the waypoint always agree).
import type { V1Namespace, V1Service } from '@kubernetes/client-node';
import type { JsonValue } from '../../../lib/proto/index.ts';
import { GATEWAY_NAME_LABEL } from '../model/labels.ts';
import { waypointForService, type WaypointLookup } from '../model/waypoints.ts';

/** A waypoint Gateway, `namespace/name`. */
export interface WaypointKey {
  namespace: string;
  name: string;
}

export function waypointKeyString(k: WaypointKey): string {
  return `${k.namespace}/${k.name}`;
}

/** What the store sees of a stream's node (XdsProxy.node.id and its metadata as JSON). */
export interface ProxyNode {
  id: string;
  metadata: { readonly [key: string]: JsonValue };
}

function str(v: JsonValue | undefined): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * The waypoint a proxy is, or undefined for any other proxy (a ztunnel, a sidecar, a gateway that
 * names no Gateway). Istio's waypoint sends `router~<ip>~<pod>.<ns>~<ns>.svc.<domain>` with metadata
 * NAMESPACE and LABELS (its pod labels, with the Gateway's name); GATEWAY_NAME is ours, for proxies
 * started by hand.
 */
export function waypointOfProxy(node: ProxyNode): WaypointKey | undefined {
  const parts = node.id.split('~');
  if (parts.length !== 4 || parts[0] !== 'router') return undefined;
  const labels = node.metadata['LABELS'];
  const labelName = labels !== null && typeof labels === 'object' && !Array.isArray(labels) ? str(labels[GATEWAY_NAME_LABEL]) : undefined;
  const name = labelName ?? str(node.metadata['GATEWAY_NAME']);
  // The id's last part is `<ns>.svc.<domain>`; NAMESPACE is authoritative when present.
  const namespace = str(node.metadata['NAMESPACE']) ?? (parts[3]!.split('.')[0] || undefined);
  if (!name || !namespace) return undefined;
  return { namespace, name };
}

/**
 * The Services that use waypoint `w`, in a stable order (namespace, then name): the ones whose
 * binding (own `istio.io/use-waypoint`, else their namespace's; `none` opts out; the waypoint must
 * take service traffic and allow the namespace) resolves to `w`. The waypoint's own Service never
 * binds (waypointForService refuses managed gateway Services).
 */
export function servicesForWaypoint(w: WaypointKey, services: readonly V1Service[], namespaces: ReadonlyMap<string, V1Namespace>, lookup: WaypointLookup): V1Service[] {
  const out: V1Service[] = [];
  for (const svc of services) {
    if (svc.spec?.type === 'ExternalName') continue;
    const meta = svc.metadata ?? {};
    const bound = waypointForService(meta, namespaces.get(meta.namespace ?? ''), lookup);
    if (bound && bound.namespace === w.namespace && bound.name === w.name) out.push(svc);
  }
  return out.sort((a, b) => compareKeys(a.metadata?.namespace ?? '', a.metadata?.name ?? '', b.metadata?.namespace ?? '', b.metadata?.name ?? ''));
}

function compareKeys(ans: string, an: string, bns: string, bn: string): number {
  if (ans !== bns) return ans < bns ? -1 : 1;
  return an < bn ? -1 : an > bn ? 1 : 0;
}
