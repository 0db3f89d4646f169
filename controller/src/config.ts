// The controller's configuration from the environment (istiod's names where it has one). Ports and
// paths are settable so the lab can run it as a host process.
import { envAddress, type ListenAddress } from '../../lib/config/env.ts';

export interface ControllerConfig {
  /** Kubeconfig file; empty means in-cluster. */
  kubeconfig: string;
  podName: string;
  /** The namespace the controller runs in and keeps its CA Secret and Lease in (istio-system). */
  systemNamespace: string;
  /** Where mesh-wide policies live (istiod's root namespace). */
  rootNamespace: string;
  trustDomain: string;
  clusterId: string;
  domainSuffix: string;
  /** `namespace/serviceaccount` of node proxies allowed to impersonate (CA_TRUSTED_NODE_ACCOUNTS). */
  trustedNodeAccounts: Set<string>;
  tokenAudiences: string[];
  /** Plaintext xDS + CA (lab, tests); loopback unless GRPC_ADDR says otherwise. */
  grpcAddr: ListenAddress;
  /** Authenticate xDS callers with their bearer token (XDS_AUTH, default true). */
  xdsAuth: boolean;
  /** xDS + CA over TLS, serving certificate from our own CA. Port 0 = pick; undefined host disables. */
  grpcTlsAddr: ListenAddress;
  /** /metrics, /debug/*, /ready. */
  monitoringAddr: ListenAddress;
  /** Lifetime of the 15012 serving certificate (ISTIOD_SERVING_CERT_TTL, default 24h); renewed at 80%. */
  servingCertTtlMs: number;
  /** Workload certificate lifetime when the CSR asks none (DEFAULT_WORKLOAD_CERT_TTL, 24h) and the most it may ask (MAX_WORKLOAD_CERT_TTL, 90 days). */
  workloadCertTtlMs: number;
  maxWorkloadCertTtlMs: number;
  /** How often the CA re-reads its Secrets (CA_SECRET_RELOAD_INTERVAL, 10s). */
  caReloadMs: number;
  /** A new signer's roots are trusted this long before it signs (CA_TRUST_SPREAD_PERIOD, default the workload lifetime: every workload renews at half-life). */
  caTrustSpreadMs: number;
  /** Old roots stay trusted at least this long after their signer stopped (CA_TRUST_RETIRE_PERIOD, default the workload lifetime). */
  caTrustRetireMs: number;
  debounceMs: number;
  debounceMaxMs: number;
  logLevel: string;
  /** istiod's address as meshConfig.discoveryAddress names it; waypoints reach xDS and the CA there. */
  discoveryAddress: string;
  /** The image of every waypoint Deployment (the lab maps `ambient-mesh/waypoint` to our waypoint program). */
  waypointImage: string;
  /** Extra environment for waypoint containers (WAYPOINT_EXTRA_ENV, a JSON object), like istiod's `pilot.env` overrides. */
  waypointExtraEnv: Record<string, string>;
}

export type ControllerConfigResult = { ok: true; config: ControllerConfig } | { ok: false; errors: string[] };

function ms(v: string | undefined, def: number, name: string, errors: string[]): number {
  if (!v) return def;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) {
    errors.push(`${name}: not a duration (e.g. 100ms, 1s, 5m, 24h): ${v}`);
    return def;
  }
  return Number(m[1]) * ({ s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? ''] ?? 1);
}

/** A JSON object of scalar values, each taken as a string. */
function envObject(v: string | undefined, name: string, errors: string[]): Record<string, string> {
  if (!v?.trim()) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch (err) {
    errors.push(`${name}: not JSON: ${(err as Error).message}`);
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    errors.push(`${name}: not a JSON object`);
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(parsed)) {
    if (typeof val === 'string' || typeof val === 'number' || typeof val === 'boolean') out[k] = String(val);
    else errors.push(`${name}: ${k}: want a string, number or boolean`);
  }
  return out;
}

export function controllerConfigFromEnv(env: NodeJS.ProcessEnv): ControllerConfigResult {
  const errors: string[] = [];
  const systemNamespace = env.POD_NAMESPACE ?? 'istio-system';
  const workloadTtlMs = ms(env.DEFAULT_WORKLOAD_CERT_TTL, 24 * 3_600_000, 'DEFAULT_WORKLOAD_CERT_TTL', errors);
  // No leaf lives longer than the smaller of the two, so neither does any chain's trust bundle.
  const leafLifeMs = Math.min(workloadTtlMs, ms(env.MAX_WORKLOAD_CERT_TTL, 90 * 24 * 3_600_000, 'MAX_WORKLOAD_CERT_TTL', []));
  const config: ControllerConfig = {
    kubeconfig: env.KUBECONFIG ?? '',
    podName: env.POD_NAME ?? `ambient-controller-${process.pid}`,
    systemNamespace,
    rootNamespace: env.ROOT_NAMESPACE ?? systemNamespace,
    trustDomain: env.TRUST_DOMAIN ?? 'cluster.local',
    clusterId: env.CLUSTER_ID ?? 'Kubernetes',
    domainSuffix: env.DOMAIN_SUFFIX ?? 'cluster.local',
    trustedNodeAccounts: new Set((env.CA_TRUSTED_NODE_ACCOUNTS ?? `${systemNamespace}/ztunnel`).split(',').map((s) => s.trim()).filter(Boolean)),
    tokenAudiences: (env.TOKEN_AUDIENCES ?? 'istio-ca').split(',').map((s) => s.trim()).filter(Boolean),
    grpcAddr: envAddress(env.GRPC_ADDR, { host: '127.0.0.1', port: 15010 }, 'GRPC_ADDR', errors),
    xdsAuth: (env.XDS_AUTH ?? 'true').trim().toLowerCase() !== 'false',
    grpcTlsAddr: envAddress(env.GRPC_TLS_ADDR, { host: '0.0.0.0', port: 15012 }, 'GRPC_TLS_ADDR', errors),
    monitoringAddr: envAddress(env.MONITORING_ADDR, { host: '0.0.0.0', port: 15014 }, 'MONITORING_ADDR', errors),
    servingCertTtlMs: ms(env.ISTIOD_SERVING_CERT_TTL, 24 * 3_600_000, 'ISTIOD_SERVING_CERT_TTL', errors),
    workloadCertTtlMs: workloadTtlMs,
    maxWorkloadCertTtlMs: ms(env.MAX_WORKLOAD_CERT_TTL, 90 * 24 * 3_600_000, 'MAX_WORKLOAD_CERT_TTL', errors),
    caReloadMs: Math.max(100, ms(env.CA_SECRET_RELOAD_INTERVAL, 10_000, 'CA_SECRET_RELOAD_INTERVAL', errors)),
    caTrustSpreadMs: ms(env.CA_TRUST_SPREAD_PERIOD, leafLifeMs, 'CA_TRUST_SPREAD_PERIOD', errors),
    caTrustRetireMs: ms(env.CA_TRUST_RETIRE_PERIOD, leafLifeMs, 'CA_TRUST_RETIRE_PERIOD', errors),
    debounceMs: ms(env.PILOT_DEBOUNCE_AFTER, 100, 'PILOT_DEBOUNCE_AFTER', errors),
    debounceMaxMs: ms(env.PILOT_DEBOUNCE_MAX, 1000, 'PILOT_DEBOUNCE_MAX', errors),
    logLevel: env.LOG_LEVEL ?? 'info',
    discoveryAddress: env.DISCOVERY_ADDRESS || `istiod.${systemNamespace}.svc:15012`,
    waypointImage: env.WAYPOINT_IMAGE || 'ambient-mesh/waypoint:0.1.0',
    waypointExtraEnv: envObject(env.WAYPOINT_EXTRA_ENV, 'WAYPOINT_EXTRA_ENV', errors),
  };
  for (const a of config.trustedNodeAccounts) if (!/^[^/]+\/[^/]+$/.test(a)) errors.push(`CA_TRUSTED_NODE_ACCOUNTS: ${a} is not namespace/serviceaccount`);
  return errors.length ? { ok: false, errors } : { ok: true, config };
}
