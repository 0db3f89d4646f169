// TypeScript shapes of the delta-xDS messages (envoy.service.discovery.v3, envoy.config.core.v3)
// that the workload xDS stream carries.
import type { Any, Duration, RpcStatus, Struct } from './well-known-types.ts';

export interface EnvoyLocality {
  region: string;
  zone: string;
  subZone: string;
}

export interface Node {
  id: string;
  cluster: string;
  metadata?: Struct;
  locality?: EnvoyLocality;
  userAgentName: string;
  userAgentVersion: string;
  clientFeatures: string[];
}

export interface ControlPlane {
  identifier: string;
}

export interface DeltaDiscoveryRequest {
  node?: Node;
  typeUrl: string;
  resourceNamesSubscribe: string[];
  resourceNamesUnsubscribe: string[];
  initialResourceVersions: Record<string, string>;
  responseNonce: string;
  /** Present on a NACK. */
  errorDetail?: RpcStatus;
}

export interface DeltaDiscoveryResponse {
  systemVersionInfo: string;
  resources: Resource[];
  typeUrl: string;
  nonce: string;
  removedResources: string[];
  controlPlane?: ControlPlane;
}

export interface Resource {
  version: string;
  resource?: Any;
  name: string;
  aliases: string[];
  ttl?: Duration;
  cacheControl?: { doNotCache: boolean };
}
