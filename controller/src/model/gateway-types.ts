// The Gateway API objects (gateway.networking.k8s.io/v1, schemas in charts/base/crds) the controller
// reads and writes for waypoints, as the minimal shapes the apiserver's JSON arrives in, and the
// Istio names around them (class istio-waypoint, controller istio.io/mesh-controller).
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { LabelSelector } from './labels.ts';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
export const GATEWAY_API_VERSION = `${GATEWAY_API_GROUP}/v1`;
/** The class of every waypoint Gateway (Istio's WaypointGatewayClassName). */
export const WAYPOINT_GATEWAY_CLASS = 'istio-waypoint';
/** The GatewayClass controllerName for waypoints. */
export const MESH_CONTROLLER_NAME = 'istio.io/mesh-controller';
/** The one listener a waypoint has: `{name: mesh, port: 15008, protocol: HBONE}`. */
export const WAYPOINT_LISTENER_NAME = 'mesh';
export const HBONE_PROTOCOL = 'HBONE';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  observedGeneration?: number;
  /** RFC 3339, second precision. */
  lastTransitionTime: string;
}

export interface GatewayListener {
  name: string;
  port: number;
  protocol: string;
  hostname?: string;
  allowedRoutes?: {
    namespaces?: { from?: 'All' | 'Same' | 'Selector' | string; selector?: LabelSelector };
    kinds?: { group?: string; kind: string }[];
  };
}

export interface GatewaySpec {
  gatewayClassName: string;
  listeners?: GatewayListener[];
  addresses?: { type?: string; value?: string }[];
  infrastructure?: { labels?: Record<string, string>; annotations?: Record<string, string> };
}

export interface GatewayStatusAddress {
  type: 'IPAddress' | 'Hostname' | string;
  value: string;
}

export interface ListenerStatus {
  name: string;
  supportedKinds: { group?: string; kind: string }[];
  attachedRoutes: number;
  conditions: Condition[];
}

export interface GatewayStatus {
  addresses?: GatewayStatusAddress[];
  conditions?: Condition[];
  listeners?: ListenerStatus[];
}

export interface Gateway {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta;
  spec?: GatewaySpec;
  status?: GatewayStatus;
}

export interface GatewayClass {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta;
  spec?: { controllerName?: string; description?: string };
  status?: { conditions?: Condition[] };
}
