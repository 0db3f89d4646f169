// ztunnel's configuration from the environment, with Istio's variable names where Istio has one.
// Everything a lab needs to run several "nodes" on one host (ports, paths) is settable.
import { envAddress, envBool } from '../../lib/config/env.ts';
import { parseDurationSeconds } from '../../lib/config/duration.ts';
import { isIP } from 'node:net';
import { parseXdsAddress } from '../../lib/xds/delta-requests.ts';

export interface ZtunnelConfig {
  nodeName: string;
  network: string;
  trustDomain: string;
  /** Local mode: workloads/services/policies from a YAML file (LOCAL_XDS_PATH). */
  localXdsPath?: string;
  /** Standalone CA: root certificate and key PEM files used to issue workload certificates locally. */
  caRootCertPath?: string;
  caRootKeyPath?: string;
  /** Istio's CA (CA_ADDRESS), `https://host:port` or `http://host:port`; used when no local CA is set. */
  caAddress?: string;
  /** Roots that verify the CA's server certificate (CA_ROOT_CA); `SYSTEM` means the system roots. */
  caRootCaPath: string;
  /** Name checked in the CA's server certificate instead of the address host (ALT_CA_HOSTNAME). */
  altCaHostname?: string;
  /** Requested workload certificate lifetime in seconds (SECRET_TTL). */
  secretTtlS: number;
  /** Bearer token file sent to the CA (and control plane), re-read per call (AUTH_TOKEN). */
  authTokenPath?: string;
  /** Sent as `clusterid` (ISTIO_META_CLUSTER_ID, else CLUSTER_ID). */
  clusterId: string;
  /** Extra gRPC metadata for the control plane and the CA (env XDS_HEADER_<name>, CA_HEADER_<name>). */
  xdsHeaders: Record<string, string>;
  caHeaders: Record<string, string>;
  /** `shared` (node proxy: certificates through ImpersonatedIdentity) or `dedicated` (PROXY_MODE). */
  proxyMode: 'shared' | 'dedicated';
  /** Workload xDS control plane (XDS_ADDRESS), `https://host:port` or `http://host:port`; unset: no xDS (local file mode). */
  xdsAddress?: string;
  /** Roots that verify the control plane's server certificate (XDS_ROOT_CA); `SYSTEM` means the system roots. */
  xdsRootCaPath: string;
  /** Name checked in the control plane's server certificate instead of the address host (ALT_XDS_HOSTNAME). */
  altXdsHostname?: string;
  /** This ztunnel's own pod, for the xDS node id and metadata (POD_NAME, POD_NAMESPACE, INSTANCE_IP). */
  podName: string;
  podNamespace: string;
  instanceIp: string;
  /** ZDS socket the node agent listens on (INPOD_UDS). */
  inpodUds: string;
  adminAddr: { host: string; port: number };
  metricsAddr: { host: string; port: number };
  readinessAddr: { host: string; port: number };
  logLevel: string;
  /** Drain deadline on SIGTERM. */
  terminationDeadlineMs: number;
  /** Run the DNS proxy in every pod (DNS_CAPTURE, default true; the CNI decides what reaches it). */
  dnsCapture: boolean;
  /** One full V8 collection when idle after a burst grew the heap (ZTUNNEL_IDLE_GC, default true; lib/metrics/idle-gc.ts). */
  idleGc: boolean;
  /** Where the DNS proxy listens inside each pod netns, UDP and TCP (DNS_PROXY_ADDR). */
  dnsProxyAddr: { host: string; port: number };
  /** The resolv.conf whose nameservers get forwarded queries (DNS_RESOLV_CONF). */
  dnsResolvConf: string;
  /** How long an outbound HBONE CONNECT waits for the peer's response (HBONE_CONNECT_RESPONSE_TIMEOUT, default 10s). */
  hboneResponseTimeoutMs: number;
  /** A pooled HBONE connection without streams is closed after this (POOL_UNUSED_RELEASE_TIMEOUT, default 5m). */
  poolIdleTimeoutMs: number;
}

export type ConfigResult = { ok: true; config: ZtunnelConfig } | { ok: false; errors: string[] };


/** `XDS_HEADER_x-team=a` → `{ 'x-team': 'a' }` (gRPC metadata keys are lower case; Kubernetes allows `-` in env names). */
function prefixedHeaders(env: NodeJS.ProcessEnv, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith(prefix) && k.length > prefix.length && v !== undefined) out[k.slice(prefix.length).toLowerCase()] = v;
  return out;
}

/** Pure: the config from an environment map. */
export function configFromEnv(env: NodeJS.ProcessEnv): ConfigResult {
  const errors: string[] = [];
  const nodeName = env.NODE_NAME ?? '';
  if (!nodeName) errors.push('NODE_NAME is required (ztunnel serves the pods of one node)');
  const deadlineS = env.CONNECTION_TERMINATION_DEADLINE ? Number.parseFloat(env.CONNECTION_TERMINATION_DEADLINE) : 5;
  if (!Number.isFinite(deadlineS) || deadlineS < 0) errors.push(`CONNECTION_TERMINATION_DEADLINE: not a number of seconds: ${env.CONNECTION_TERMINATION_DEADLINE}`);
  const secretTtl = env.SECRET_TTL ? parseDurationSeconds(env.SECRET_TTL) : 86400;
  if (secretTtl === undefined || secretTtl < 1) errors.push(`SECRET_TTL: not a duration of at least 1s (seconds or e.g. 24h): ${env.SECRET_TTL}`);
  if (env.XDS_ADDRESS) {
    const xds = parseXdsAddress(env.XDS_ADDRESS);
    if (!xds.ok) errors.push(`XDS_ADDRESS: ${xds.error}`);
    if (env.LOCAL_XDS_PATH) errors.push('XDS_ADDRESS and LOCAL_XDS_PATH are exclusive (config comes from one of them)');
    if (!env.POD_NAME) errors.push('POD_NAME is required with XDS_ADDRESS (it is part of the xDS node id)');
    if (!env.INSTANCE_IP || !isIP(env.INSTANCE_IP)) errors.push(`INSTANCE_IP must be this pod's IP with XDS_ADDRESS: ${env.INSTANCE_IP ?? '(unset)'}`);
  }
  const poolIdleS = env.POOL_UNUSED_RELEASE_TIMEOUT ? parseDurationSeconds(env.POOL_UNUSED_RELEASE_TIMEOUT) : 300;
  if (poolIdleS === undefined || poolIdleS <= 0) errors.push(`POOL_UNUSED_RELEASE_TIMEOUT: not a positive duration (seconds or e.g. 500ms): ${env.POOL_UNUSED_RELEASE_TIMEOUT}`);
  const responseTimeoutS = env.HBONE_CONNECT_RESPONSE_TIMEOUT ? parseDurationSeconds(env.HBONE_CONNECT_RESPONSE_TIMEOUT) : 10;
  if (responseTimeoutS === undefined || responseTimeoutS <= 0) errors.push(`HBONE_CONNECT_RESPONSE_TIMEOUT: not a positive duration (seconds or e.g. 500ms): ${env.HBONE_CONNECT_RESPONSE_TIMEOUT}`);
  if (env.CA_ADDRESS && !/^(https?:\/\/)?(\[[0-9a-fA-F:.]+\]|[^/:\s[\]]+)(:\d+)?\/?$/.test(env.CA_ADDRESS)) errors.push(`CA_ADDRESS: expected https://host:port or http://host:port: ${env.CA_ADDRESS}`);
  const config: ZtunnelConfig = {
    nodeName,
    network: env.NETWORK ?? '',
    trustDomain: env.TRUST_DOMAIN ?? 'cluster.local',
    ...(env.LOCAL_XDS_PATH ? { localXdsPath: env.LOCAL_XDS_PATH } : {}),
    ...(env.CA_ROOT_CERT ? { caRootCertPath: env.CA_ROOT_CERT } : {}),
    ...(env.CA_ROOT_KEY ? { caRootKeyPath: env.CA_ROOT_KEY } : {}),
    ...(env.CA_ADDRESS ? { caAddress: env.CA_ADDRESS } : {}),
    caRootCaPath: env.CA_ROOT_CA || '/var/run/secrets/istio/root-cert.pem',
    ...(env.ALT_CA_HOSTNAME ? { altCaHostname: env.ALT_CA_HOSTNAME } : {}),
    secretTtlS: Math.round(secretTtl ?? 0),
    ...(env.AUTH_TOKEN ? { authTokenPath: env.AUTH_TOKEN } : {}),
    clusterId: env.ISTIO_META_CLUSTER_ID || env.CLUSTER_ID || 'Kubernetes',
    xdsHeaders: prefixedHeaders(env, 'XDS_HEADER_'),
    caHeaders: prefixedHeaders(env, 'CA_HEADER_'),
    proxyMode: env.PROXY_MODE === 'dedicated' ? 'dedicated' : 'shared',
    ...(env.XDS_ADDRESS ? { xdsAddress: env.XDS_ADDRESS } : {}),
    xdsRootCaPath: env.XDS_ROOT_CA || '/var/run/secrets/istio/root-cert.pem',
    ...(env.ALT_XDS_HOSTNAME ? { altXdsHostname: env.ALT_XDS_HOSTNAME } : {}),
    podName: env.POD_NAME ?? '',
    podNamespace: env.POD_NAMESPACE || 'istio-system',
    instanceIp: env.INSTANCE_IP ?? '',
    inpodUds: env.INPOD_UDS ?? '/var/run/ztunnel/ztunnel.sock',
    adminAddr: envAddress(env.ADMIN_ADDR, { host: '127.0.0.1', port: 15000 }, 'ADMIN_ADDR', errors),
    metricsAddr: envAddress(env.STATS_ADDR, { host: '0.0.0.0', port: 15020 }, 'STATS_ADDR', errors),
    readinessAddr: envAddress(env.READINESS_ADDR, { host: '0.0.0.0', port: 15021 }, 'READINESS_ADDR', errors),
    logLevel: env.RUST_LOG ?? env.LOG_LEVEL ?? 'info',
    terminationDeadlineMs: Math.round(deadlineS * 1000),
    dnsCapture: envBool(env.DNS_CAPTURE, true, 'DNS_CAPTURE', errors),
    idleGc: envBool(env.ZTUNNEL_IDLE_GC, true, 'ZTUNNEL_IDLE_GC', errors),
    dnsProxyAddr: envAddress(env.DNS_PROXY_ADDR, { host: '127.0.0.1', port: 15053 }, 'DNS_PROXY_ADDR', errors),
    dnsResolvConf: env.DNS_RESOLV_CONF || '/etc/resolv.conf',
    hboneResponseTimeoutMs: Math.max(1, Math.round((responseTimeoutS ?? 10) * 1000)),
    poolIdleTimeoutMs: Math.max(1, Math.round((poolIdleS ?? 300) * 1000)),
  };
  if (!isIP(config.dnsProxyAddr.host)) errors.push(`DNS_PROXY_ADDR: the host must be a numeric IP: ${env.DNS_PROXY_ADDR}`);
  if ((config.caRootCertPath === undefined) !== (config.caRootKeyPath === undefined)) errors.push('CA_ROOT_CERT and CA_ROOT_KEY go together');
  return errors.length ? { ok: false, errors } : { ok: true, config };
}
