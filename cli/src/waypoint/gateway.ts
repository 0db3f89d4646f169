// The waypoint Gateway as istioctl 1.28 builds, prints and lists it: the object `waypoint
// generate|apply` makes, its YAML, and the `waypoint list|status` tables. Pure functions.
import { stringify } from 'yaml';
import { CliError } from '../args.ts';
import { table, WAYPOINT_TABLE } from '../table.ts';

export const GATEWAY_GROUP = 'gateway.networking.k8s.io';
export const GATEWAY_VERSION = 'v1';
export const GATEWAY_PLURAL = 'gateways';
export const WAYPOINT_CLASS = 'istio-waypoint';
export const DEFAULT_WAYPOINT_NAME = 'waypoint';
export const LABEL_WAYPOINT_FOR = 'istio.io/waypoint-for';
export const LABEL_REV = 'istio.io/rev';
export const LABEL_USE_WAYPOINT = 'istio.io/use-waypoint';
export const LABEL_DATAPLANE_MODE = 'istio.io/dataplane-mode';
/** Go's sets.SortedList order, as istioctl prints them. */
export const TRAFFIC_TYPES = ['all', 'none', 'service', 'workload'] as const;

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** The parts of a gateway.networking.k8s.io/v1 Gateway the CLI reads or writes. */
export interface Gateway {
  apiVersion: string;
  kind: 'Gateway';
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec: { gatewayClassName: string; listeners: { name: string; port: number; protocol: string }[] };
  status?: { conditions?: Condition[] };
}

export interface GatewayOptions {
  /** `--name`; empty means the default. */
  name: string;
  /** Omitted from the object when undefined (`generate` without `-n`). */
  namespace?: string;
  /** `--for`; the label is set only when given, so istiod's default (service) applies otherwise. */
  trafficType?: string;
  revision?: string;
}

/** istioctl's makeGateway: the one-listener HBONE Gateway, or the error it refuses the flags with. */
export function makeGateway(o: GatewayOptions): Gateway {
  const name = o.name === '' ? DEFAULT_WAYPOINT_NAME : o.name;
  if (name === 'none') throw new CliError("failed to create gateway: invalid name provided for waypoint, 'none' is a reserved value");
  const labels: Record<string, string> = {};
  if (o.trafficType) {
    if (!(TRAFFIC_TYPES as readonly string[]).includes(o.trafficType)) {
      throw new CliError(`failed to create gateway: invalid traffic type: ${o.trafficType}. Valid options are: [${TRAFFIC_TYPES.join(' ')}]`);
    }
    labels[LABEL_WAYPOINT_FOR] = o.trafficType;
  }
  if (o.revision) labels[LABEL_REV] = o.revision;
  return {
    apiVersion: `${GATEWAY_GROUP}/${GATEWAY_VERSION}`,
    kind: 'Gateway',
    metadata: { ...(Object.keys(labels).length ? { labels } : {}), name, ...(o.namespace ? { namespace: o.namespace } : {}) },
    spec: { gatewayClassName: WAYPOINT_CLASS, listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
  };
}

/** The YAML `waypoint generate` prints: keys sorted, sequences not indented (sigs.k8s.io/yaml). */
export function gatewayYaml(gw: Gateway): string {
  return stringify(gw, { sortMapEntries: true, indentSeq: false, lineWidth: 0 });
}

export function isProgrammed(gw: Gateway | undefined): boolean {
  return (gw?.status?.conditions ?? []).some((c) => c.type === 'Programmed' && c.status === 'True');
}

const byNamespaceName = (a: Gateway, b: Gateway): number =>
  cmp(a.metadata.namespace ?? '', b.metadata.namespace ?? '') || cmp(a.metadata.name, b.metadata.name);
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Only waypoints, sorted by namespace then name (the order both tables use). */
export function waypointsOf(gateways: readonly Gateway[]): Gateway[] {
  return gateways.filter((g) => g.spec?.gatewayClassName === WAYPOINT_CLASS).sort(byNamespaceName);
}

/**
 * `waypoint list`: "No waypoints found." when the namespace has no Gateway at all (before the class
 * filter, as istioctl does), else the table. TRAFFIC TYPE shows `none` for an absent label.
 */
export function listOutput(gateways: readonly Gateway[], allNamespaces: boolean): string {
  if (gateways.length === 0) return 'No waypoints found.\n';
  const rows: string[][] = [allNamespaces ? ['NAMESPACE', 'NAME', 'REVISION', 'TRAFFIC TYPE', 'PROGRAMMED'] : ['NAME', 'REVISION', 'TRAFFIC TYPE', 'PROGRAMMED']];
  for (const gw of waypointsOf(gateways)) {
    const labels = gw.metadata.labels ?? {};
    // istioctl keeps the last Programmed condition it sees; there is one in practice.
    const programmed = [...(gw.status?.conditions ?? [])].reverse().find((c) => c.type === 'Programmed')?.status ?? 'False';
    const row = [gw.metadata.name, labels[LABEL_REV] || 'default', labels[LABEL_WAYPOINT_FOR] || 'none', programmed];
    rows.push(allNamespaces ? [gw.metadata.namespace ?? '', ...row] : row);
  }
  return table(rows, WAYPOINT_TABLE);
}

/**
 * One `waypoint status` row: the Programmed condition once True, else the last condition istioctl's
 * loop left behind (the last in the list), or empty cells when the Gateway has none.
 */
export function statusRow(gw: Gateway, withNamespace: boolean): string[] {
  const conds = gw.status?.conditions ?? [];
  const c = conds.find((x) => x.type === 'Programmed' && x.status === 'True') ?? conds[conds.length - 1];
  const row = [gw.metadata.name, c?.status ?? '', c?.type ?? '', c?.reason ?? '', c?.message ?? ''];
  return withNamespace ? [gw.metadata.namespace ?? '', ...row] : row;
}

export function statusOutput(rows: readonly string[][], withNamespace: boolean): string {
  const header = withNamespace ? ['NAMESPACE', 'NAME', 'STATUS', 'TYPE', 'REASON', 'MESSAGE'] : ['NAME', 'STATUS', 'TYPE', 'REASON', 'MESSAGE'];
  return table([header, ...rows], WAYPOINT_TABLE);
}
