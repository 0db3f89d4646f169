// The waypoint process's settings from the environment, with the names Istio's proxy (pilot-agent)
// and ztunnel read, and the xDS node identity built from them. Everything the lab needs to run a
// waypoint pod as a host process (ports, paths, the pod netns) is settable.
import { isIP } from 'node:net';
import { envAddress, type ListenAddress } from '../../lib/config/env.ts';
import { parseDurationSeconds } from '../../lib/config/duration.ts';
import { parseCaAddress } from '../../lib/identity/ca-client.ts';
import { isLevel } from '../../lib/log/logger.ts';
import type { JsonValue } from '../../lib/proto/index.ts';
import { parseXdsAddress } from '../../lib/xds/delta-requests.ts';

export const DEFAULT_XDS_ADDRESS = 'https://istiod.istio-system.svc:15012';
/** pilot-agent's defaults, relative to the working directory (`/` in the proxy image). */
export const DEFAULT_ROOT_CA_PATH = './var/run/secrets/istio/root-cert.pem';
export const DEFAULT_TOKEN_PATH = './var/run/secrets/tokens/istio-token';

export interface HboneListenAddress extends ListenAddress {
  /** Tried when `host` cannot be bound (no IPv6 in the namespace); only for the default `[::]`. */
  fallbackHost?: string;
}

export interface WaypointSettings {
  /** Envoy v3 ADS control plane (XDS_ADDRESS), `https://host:port` or `http://host:port`. */
  xdsAddress: string;
  /** Roots for the control plane's server certificate (XDS_ROOT_CA); `SYSTEM` = the system roots. */
  xdsRootCaPath: string;
  altXdsHostname?: string;
  /** Istio's CA (CA_ADDRESS), the control plane's address unless set. */
  caAddress: string;
  caRootCaPath: string;
  altCaHostname?: string;
  /** Service-account token for the control plane and the CA, re-read per call (AUTH_TOKEN). */
  authTokenPath: string;
  clusterId: string;
  trustDomain: string;
  domainSuffix: string;
  podName: string;
  podNamespace: string;
  instanceIp: string;
  serviceAccount: string;
  nodeName?: string;
  /** The Gateway this waypoint is deployed for (GATEWAY_NAME), and its Deployment (WORKLOAD_NAME). */
  gatewayName: string;
  workloadName: string;
  /** Requested certificate lifetime (SECRET_TTL), seconds. */
  secretTtlS: number;
  /** When set, the data-plane sockets (15008 and every upstream) are made inside this netns. */
  podNetns?: string;
  hboneAddr: HboneListenAddress;
  adminAddr: ListenAddress;
  statsAddr: ListenAddress;
  readinessAddr: ListenAddress;
  /** How long in-flight requests get on SIGTERM before everything is cut. */
  drainDurationMs: number;
  logLevel: string;
}

export type ConfigResult = { ok: true; config: WaypointSettings } | { ok: false; errors: string[] };

function duration(env: NodeJS.ProcessEnv, names: readonly string[], defS: number, minS: number, errors: string[]): number {
  const name = names.find((n) => env[n] !== undefined && env[n] !== '');
  if (!name) return defS;
  const s = parseDurationSeconds(env[name]!);
  if (s === undefined || s < minS) {
    errors.push(`${name}: not a duration of at least ${minS}s (seconds or e.g. 5s): ${env[name]}`);
    return defS;
  }
  return s;
}

/** Pure: the settings from an environment map, or every problem found. */
export function configFromEnv(env: NodeJS.ProcessEnv): ConfigResult {
  const errors: string[] = [];
  const required = (name: string, why: string): string => {
    const v = env[name] ?? '';
    if (!v) errors.push(`${name} is required (${why})`);
    return v;
  };
  const xdsAddress = env.XDS_ADDRESS || DEFAULT_XDS_ADDRESS;
  const xds = parseXdsAddress(xdsAddress);
  if (!xds.ok) errors.push(`XDS_ADDRESS: ${xds.error}`);
  const caAddress = env.CA_ADDRESS || xdsAddress;
  try {
    // Istio writes it without a scheme (`istiod.istio-system.svc:15012`): TLS then.
    parseCaAddress(caAddress);
  } catch (err) {
    errors.push(`CA_ADDRESS: ${(err as Error).message}`);
  }
  const podName = required('POD_NAME', 'part of the xDS node id');
  const podNamespace = required('POD_NAMESPACE', 'part of the xDS node id and identity');
  const instanceIp = required('INSTANCE_IP', "this pod's IP, part of the xDS node id");
  if (instanceIp && !isIP(instanceIp)) errors.push(`INSTANCE_IP: not an IP address: ${instanceIp}`);
  const serviceAccount = required('SERVICE_ACCOUNT', 'the identity the certificate is issued for');
  const gatewayName = env.GATEWAY_NAME || serviceAccount;
  const logLevel = env.LOG_LEVEL || 'info';
  if (!isLevel(logLevel)) errors.push(`LOG_LEVEL: one of trace, debug, info, warn, error, fatal, silent: ${logLevel}`);
  const hboneDefault = !env.HBONE_ADDR;
  const config: WaypointSettings = {
    xdsAddress,
    xdsRootCaPath: env.XDS_ROOT_CA || DEFAULT_ROOT_CA_PATH,
    ...(env.ALT_XDS_HOSTNAME ? { altXdsHostname: env.ALT_XDS_HOSTNAME } : {}),
    caAddress,
    caRootCaPath: env.CA_ROOT_CA || DEFAULT_ROOT_CA_PATH,
    ...(env.ALT_CA_HOSTNAME ? { altCaHostname: env.ALT_CA_HOSTNAME } : {}),
    authTokenPath: env.AUTH_TOKEN || DEFAULT_TOKEN_PATH,
    clusterId: env.ISTIO_META_CLUSTER_ID || env.CLUSTER_ID || 'Kubernetes',
    trustDomain: env.TRUST_DOMAIN || 'cluster.local',
    domainSuffix: env.DOMAIN_SUFFIX || 'cluster.local',
    podName,
    podNamespace,
    instanceIp,
    serviceAccount,
    ...(env.NODE_NAME ? { nodeName: env.NODE_NAME } : {}),
    gatewayName,
    workloadName: env.WORKLOAD_NAME || env.ISTIO_META_WORKLOAD_NAME || gatewayName,
    secretTtlS: Math.round(duration(env, ['SECRET_TTL'], 86400, 1, errors)),
    ...(env.POD_NETNS ? { podNetns: env.POD_NETNS } : {}),
    hboneAddr: {
      ...envAddress(env.HBONE_ADDR, { host: '::', port: 15008 }, 'HBONE_ADDR', errors),
      ...(hboneDefault ? { fallbackHost: '0.0.0.0' } : {}),
    },
    adminAddr: envAddress(env.ADMIN_ADDR, { host: '127.0.0.1', port: 15000 }, 'ADMIN_ADDR', errors),
    statsAddr: envAddress(env.STATS_ADDR, { host: '0.0.0.0', port: 15020 }, 'STATS_ADDR', errors),
    readinessAddr: envAddress(env.READINESS_ADDR, { host: '0.0.0.0', port: 15021 }, 'READINESS_ADDR', errors),
    drainDurationMs: Math.round(duration(env, ['TERMINATION_DRAIN_DURATION', 'CONNECTION_TERMINATION_DEADLINE'], 5, 0, errors) * 1000),
    logLevel,
  };
  // Sockets in another netns are made natively, and a name lookup would run in the wrong one.
  if (config.podNetns && !isIP(config.hboneAddr.host)) errors.push(`HBONE_ADDR: the host must be a numeric IP with POD_NETNS: ${env.HBONE_ADDR}`);
  return errors.length ? { ok: false, errors } : { ok: true, config };
}

/** The waypoint's SPIFFE id: the one certificate it holds. */
export function waypointIdentity(s: Pick<WaypointSettings, 'trustDomain' | 'podNamespace' | 'serviceAccount'>): string {
  return `spiffe://${s.trustDomain}/ns/${s.podNamespace}/sa/${s.serviceAccount}`;
}

export interface XdsNode {
  id: string;
  metadata: Record<string, JsonValue>;
}

/** Pure: the node Istio's waypoint announces (type `router`, like a gateway), id and metadata. */
export function xdsNode(s: WaypointSettings): XdsNode {
  return {
    id: `router~${s.instanceIp}~${s.podName}.${s.podNamespace}~${s.podNamespace}.svc.${s.domainSuffix}`,
    metadata: {
      NAME: s.podName,
      NAMESPACE: s.podNamespace,
      INSTANCE_IPS: s.instanceIp,
      SERVICE_ACCOUNT: s.serviceAccount,
      CLUSTER_ID: s.clusterId,
      WORKLOAD_NAME: s.workloadName,
      GATEWAY_NAME: s.gatewayName,
      ...(s.nodeName ? { NODE_NAME: s.nodeName } : {}),
      LABELS: { 'gateway.networking.k8s.io/gateway-name': s.gatewayName },
    },
  };
}
