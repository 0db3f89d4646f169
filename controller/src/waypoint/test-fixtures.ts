// Test helpers for the waypoint deployer: waypoint Gateways, render options, the objects the
// cluster would show once the deployer's writes took effect.
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import type { Gateway, GatewayListener } from '../model/index.ts';
import type { WaypointRenderOptions } from './render.ts';

export const RENDER: WaypointRenderOptions = {
  image: 'ambient-mesh/waypoint:0.1.0',
  systemNamespace: 'istio-system',
  discoveryAddress: 'istiod.istio-system.svc:15012',
  clusterId: 'Kubernetes',
  trustDomain: 'cluster.local',
  domainSuffix: 'cluster.local',
  extraEnv: {},
};

export const MESH_LISTENER: GatewayListener = { name: 'mesh', port: 15008, protocol: 'HBONE' };

export function waypointGateway(o: { name?: string; namespace?: string; listeners?: GatewayListener[]; labels?: Record<string, string>; generation?: number; status?: Gateway['status']; className?: string } = {}): Gateway {
  const name = o.name ?? 'waypoint';
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name, namespace: o.namespace ?? 'app', uid: `uid-${name}`, generation: o.generation ?? 1, ...(o.labels ? { labels: o.labels } : {}) },
    spec: { gatewayClassName: o.className ?? 'istio-waypoint', listeners: o.listeners ?? [MESH_LISTENER] },
    ...(o.status ? { status: o.status } : {}),
  };
}

/** The waypoint Service as the apiserver returns it after the apply (cluster IP assigned). */
export function assignedService(svc: V1Service, clusterIP = '10.96.7.7'): V1Service {
  return { ...svc, spec: { ...svc.spec, clusterIP, clusterIPs: [clusterIP], sessionAffinity: 'None', ports: svc.spec?.ports?.map((p) => ({ ...p, targetPort: p.port })) } };
}

export function hboneSlice(namespace: string, service: string, ready: (boolean | undefined)[]): V1EndpointSlice {
  return {
    addressType: 'IPv4',
    metadata: { name: `${service}-xyz`, namespace, labels: { 'kubernetes.io/service-name': service } },
    ports: [{ name: 'status-port', port: 15021 }, { name: 'mesh', port: 15008 }],
    endpoints: ready.map((r, i) => ({ addresses: [`10.244.1.${10 + i}`], ...(r === undefined ? {} : { conditions: { ready: r } }) })),
  };
}
