// ztunnel's configuration from the environment, with Istio's variable names where Istio has one.
// Everything a lab needs to run several "nodes" on one host (ports, paths) is settable.

export interface ZtunnelConfig {
  nodeName: string;
  network: string;
  trustDomain: string;
  /** Local mode: workloads/services/policies from a YAML file (LOCAL_XDS_PATH). */
  localXdsPath?: string;
  /** Standalone CA: root certificate and key PEM files used to issue workload certificates locally. */
  caRootCertPath?: string;
  caRootKeyPath?: string;
  /** ZDS socket the node agent listens on (INPOD_UDS). */
  inpodUds: string;
  adminAddr: { host: string; port: number };
  metricsAddr: { host: string; port: number };
  readinessAddr: { host: string; port: number };
  logLevel: string;
  /** Drain deadline on SIGTERM. */
  terminationDeadlineMs: number;
}

export type ConfigResult = { ok: true; config: ZtunnelConfig } | { ok: false; errors: string[] };

function addr(v: string | undefined, def: { host: string; port: number }, name: string, errors: string[]): { host: string; port: number } {
  if (!v) return def;
  const i = v.lastIndexOf(':');
  const host = i > 0 ? v.slice(0, i).replace(/^\[|\]$/g, '') : def.host;
  const port = Number(i >= 0 ? v.slice(i + 1) : v);
  if (!Number.isInteger(port) || port < 0 || port > 65535) errors.push(`${name}: not a port or host:port: ${v}`);
  return { host, port };
}

/** Pure: the config from an environment map. */
export function configFromEnv(env: NodeJS.ProcessEnv): ConfigResult {
  const errors: string[] = [];
  const nodeName = env.NODE_NAME ?? '';
  if (!nodeName) errors.push('NODE_NAME is required (ztunnel serves the pods of one node)');
  const deadlineS = env.CONNECTION_TERMINATION_DEADLINE ? Number.parseFloat(env.CONNECTION_TERMINATION_DEADLINE) : 5;
  if (!Number.isFinite(deadlineS) || deadlineS < 0) errors.push(`CONNECTION_TERMINATION_DEADLINE: not a number of seconds: ${env.CONNECTION_TERMINATION_DEADLINE}`);
  const config: ZtunnelConfig = {
    nodeName,
    network: env.NETWORK ?? '',
    trustDomain: env.TRUST_DOMAIN ?? 'cluster.local',
    ...(env.LOCAL_XDS_PATH ? { localXdsPath: env.LOCAL_XDS_PATH } : {}),
    ...(env.CA_ROOT_CERT ? { caRootCertPath: env.CA_ROOT_CERT } : {}),
    ...(env.CA_ROOT_KEY ? { caRootKeyPath: env.CA_ROOT_KEY } : {}),
    inpodUds: env.INPOD_UDS ?? '/var/run/ztunnel/ztunnel.sock',
    adminAddr: addr(env.ADMIN_ADDR, { host: '127.0.0.1', port: 15000 }, 'ADMIN_ADDR', errors),
    metricsAddr: addr(env.STATS_ADDR, { host: '0.0.0.0', port: 15020 }, 'STATS_ADDR', errors),
    readinessAddr: addr(env.READINESS_ADDR, { host: '0.0.0.0', port: 15021 }, 'READINESS_ADDR', errors),
    logLevel: env.RUST_LOG ?? env.LOG_LEVEL ?? 'info',
    terminationDeadlineMs: Math.round(deadlineS * 1000),
  };
  if ((config.caRootCertPath === undefined) !== (config.caRootKeyPath === undefined)) errors.push('CA_ROOT_CERT and CA_ROOT_KEY go together');
  return errors.length ? { ok: false, errors } : { ok: true, config };
}
