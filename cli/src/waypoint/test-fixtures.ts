// Gateway objects for the waypoint tests, shaped as the apiserver returns them.
import type { Gateway } from './gateway.ts';

/** A Gateway; `programmed` adds Accepted + Programmed conditions with that status. */
export function gw(ns: string, name: string, o: { labels?: Record<string, string>; programmed?: string; cls?: string; conditions?: Gateway['status'] } = {}): Gateway {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name, namespace: ns, ...(o.labels ? { labels: o.labels } : {}) },
    spec: { gatewayClassName: o.cls ?? 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
    ...(o.conditions ? { status: o.conditions } : o.programmed
      ? { status: { conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Resource accepted' }, { type: 'Programmed', status: o.programmed, reason: o.programmed === 'True' ? 'Programmed' : 'AddressNotUsable', message: 'm' }] } }
      : {}),
  };
}
