// The composition root of a ztunnel process: state, certificates, HBONE pool, connection manager,
// the per-pod proxies and the ops servers, wired from a ZtunnelConfig. Pods arrive through
// `workloads` (driven by the ZDS client); config through the local file or workload xDS.
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { HbonePool } from '../../lib/hbone/index.ts';
import { CertificateAuthority, issueWorkloadCertificate } from '../../lib/identity/index.ts';
import { createCaIssuer, parseCaAddress, type CaClient } from '../../lib/identity/ca-client.ts';
import { RootBundleFile } from '../../lib/identity/root-bundle-file.ts';
import { SecretManager, type Issuer } from '../../lib/identity/secret-manager.ts';
import { createLogger, type Logger } from '../../lib/log/logger.ts';
import { registerTcpMetrics } from '../../lib/metrics/istio-tcp.ts';
import { Registry } from '../../lib/metrics/registry.ts';
import { startIdleGc } from '../../lib/metrics/idle-gc.ts';
import { releaseFreeNativeMemory } from '../../lib/netns/index.ts';
import { registerProcessMetrics } from '../../lib/metrics/process.ts';
import type { DeltaXdsClient } from '../../lib/xds/index.ts';
import { configDump } from './admin/config-dump.ts';
import { startOpsServers } from './admin/servers.ts';
import type { ZtunnelConfig } from './config.ts';
import { parseLocalConfig } from './config/local-config.ts';
import { dnsProxyDeps } from './dns/pod-dns.ts';
import { WorkloadManager } from './inpod/workload-manager.ts';
import { ZdsClient } from './inpod/zds-client.ts';
import { workloadManagerConsumer } from './inpod/zds-workloads.ts';
import { RoundRobin } from './proxy/build-request.ts';
import { ConnectionManager, registerProxyErrors } from './proxy/connection-manager.ts';
import { recheckOnChange, registerRecheckMetrics } from './proxy/policy-recheck.ts';
import { ProxyState, registerStateMetrics } from './state/proxy-state.ts';
import { applySnapshot } from './state/state-updater.ts';
import { startWorkloadXds } from './xds/workload-xds.ts';

export const VERSION = '0.1.0';

export interface ZtunnelApp {
  config: ZtunnelConfig;
  log: Logger;
  state: ProxyState;
  registry: Registry;
  workloads: WorkloadManager;
  secrets: SecretManager;
  connections: ConnectionManager;
  /** The workload xDS client when XDS_ADDRESS is set. */
  xds?: DeltaXdsClient;
  ports: { admin: number; metrics: number; readiness: number };
  notReady(): string[];
  /** Stops listening, lets connections finish until the deadline, then closes the rest. */
  shutdown(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** How certificates are obtained when no local CA is configured (the CA client). */
  issuer?: Issuer;
  /** Connect to the node agent over ZDS (default). Tests that hand pods to `workloads` turn it off. */
  zds?: boolean;
}

async function localIssuer(cfg: ZtunnelConfig): Promise<Issuer | undefined> {
  if (!cfg.caRootCertPath || !cfg.caRootKeyPath) return undefined;
  const ca = await CertificateAuthority.create({
    signer: { certPem: readFileSync(cfg.caRootCertPath, 'utf8'), keyPem: readFileSync(cfg.caRootKeyPath, 'utf8') },
    trustDomain: cfg.trustDomain,
  });
  return (identity) => issueWorkloadCertificate(ca, identity);
}

/** Istio's CA over gRPC (CA_ADDRESS); the root CA file is only needed for https. */
function remoteCa(cfg: ZtunnelConfig, registry: Registry, rootFile: (path: string) => RootBundleFile): CaClient | undefined {
  if (!cfg.caAddress) return undefined;
  const useRoots = parseCaAddress(cfg.caAddress).tls && cfg.caRootCaPath !== 'SYSTEM';
  return createCaIssuer({
    address: cfg.caAddress,
    ...(useRoots ? { rootCa: rootFile(cfg.caRootCaPath) } : {}),
    ...(cfg.altCaHostname ? { serverName: cfg.altCaHostname } : {}),
    ttlSeconds: cfg.secretTtlS,
    ...(cfg.authTokenPath ? { tokenPath: cfg.authTokenPath } : {}),
    clusterId: cfg.clusterId,
    headers: cfg.caHeaders,
    impersonate: cfg.proxyMode === 'shared',
    requests: registry.counter('ztunnel_ca_requests_total', 'CreateCertificate calls to the CA by result', ['result']),
  });
}

export async function startZtunnel(cfg: ZtunnelConfig, opts: StartOptions = {}): Promise<ZtunnelApp> {
  const log = opts.log ?? createLogger({ component: 'ztunnel', level: cfg.logLevel });
  const registry = new Registry();
  registerProcessMetrics(registry);
  const idleGc = cfg.idleGc ? startIdleGc({ registry, log: log.child({ scope: 'gc' }), afterCollect: releaseFreeNativeMemory }) : undefined;
  const connections = new ConnectionManager(registerTcpMetrics(registry), log, registerProxyErrors(registry));
  const configErrors = registry.counter('ztunnel_config_rejections_total', 'Local config files rejected as invalid', []);
  const state = new ProxyState(registerStateMetrics(registry));
  // The root bundle files (CA_ROOT_CA, XDS_ROOT_CA: usually the same mounted ConfigMap), read once
  // here and re-read while running: a rotated root reaches new control-plane connections, and every
  // workload certificate is re-fetched so its chain carries the new trust bundle.
  const rootFiles = new Map<string, RootBundleFile>();
  const rootReloads = registry.counter('ztunnel_root_bundle_reloads_total', 'Re-reads of the CA root bundle file that changed it or were refused, by result', ['result']);
  const rootFile = (path: string): RootBundleFile => {
    let f = rootFiles.get(path);
    if (!f) {
      f = new RootBundleFile(path, { reloads: rootReloads, log: log.child({ scope: 'root-bundle' }) });
      f.onChange(() => secrets.refreshAll());
      rootFiles.set(path, f);
    }
    return f;
  };
  const local = await localIssuer(cfg);
  const caClient = (local ?? opts.issuer) ? undefined : remoteCa(cfg, registry, rootFile);
  const issuer = local ?? opts.issuer ?? caClient?.issuer;
  if (!issuer) throw new Error('no certificate source: set CA_ROOT_CERT and CA_ROOT_KEY (standalone) or CA_ADDRESS');
  // Pod proxies hold their pods' identities; an identity no pod on the node holds any more is
  // dropped (the CA would refuse to renew it) rather than refreshed forever.
  const secrets = new SecretManager(issuer, (identity, err) => log.warn({ identity, err: err.message }, 'certificate fetch failed'), {
    heldOnly: true,
    onDropped: (identity) => log.info({ identity }, 'certificate dropped: no pod of this identity left on the node'),
  });
  const pool = new HbonePool({ getCertificate: (id) => secrets.get(id), responseTimeoutMs: cfg.hboneResponseTimeoutMs, idleTimeoutMs: cfg.poolIdleTimeoutMs, log: log.child({ scope: 'hbone-pool' }) });
  const dns = cfg.dnsCapture
    ? dnsProxyDeps({ state, registry, network: cfg.network, resolvConfPath: cfg.dnsResolvConf, address: cfg.dnsProxyAddr, log: log.child({ scope: 'dns' }) })
    : undefined;
  const workloads = new WorkloadManager({ state, network: cfg.network, node: cfg.nodeName, connections, pool, secrets, pick: new RoundRobin().pick, log, ...(dns ? { dns } : {}) });

  // Policy changes apply to live connections too (only those a change can affect are re-checked).
  recheckOnChange(state, connections, registerRecheckMetrics(registry));

  let configLoaded = cfg.localXdsPath === undefined;
  const loadConfig = (): void => {
    if (!cfg.localXdsPath) return;
    let text: string;
    try {
      text = readFileSync(cfg.localXdsPath, 'utf8');
    } catch (err) {
      log.error({ path: cfg.localXdsPath, err: (err as Error).message }, 'cannot read local config');
      configErrors.inc();
      return;
    }
    const parsed = parseLocalConfig(text);
    if (!parsed.ok) {
      configErrors.inc();
      log.error({ path: cfg.localXdsPath, errors: parsed.errors }, 'local config rejected; keeping the last good one');
      return;
    }
    const counts = applySnapshot(state, parsed.value);
    configLoaded = true;
    log.info({ path: cfg.localXdsPath, ...counts }, 'local config applied');
  };
  loadConfig();
  if (cfg.localXdsPath) watchFile(cfg.localXdsPath, { interval: 500 }, loadConfig);
  // Or from the control plane: workload xDS writes the state resource by resource.
  const xds = cfg.xdsAddress ? startWorkloadXds({ ...cfg, xdsAddress: cfg.xdsAddress }, { state, registry, log, version: VERSION, rootFile }) : undefined;

  // Pods arrive from the node agent: the ZDS client drives the workload manager.
  let zds: ZdsClient | undefined;
  if (opts.zds !== false) {
    zds = new ZdsClient({ path: cfg.inpodUds, consumer: workloadManagerConsumer(workloads), log });
    const zdsRejected = registry.counter('ztunnel_zds_requests_rejected_total', 'ZDS requests from the node agent refused (malformed, wrong fds, out of protocol), by code', ['code']);
    zds.on('rejected', (e) => zdsRejected.inc({ code: e.code }));
    zds.start();
  }

  const notReady = (): string[] => [
    ...(configLoaded ? [] : ['configuration not loaded']),
    ...(xds && !xds.allSynced() ? ['xDS not synced'] : []),
    ...(workloads.ready() ? [] : ['first ZDS snapshot not processed']),
  ];
  const ops = await startOpsServers(
    { admin: cfg.adminAddr, metrics: cfg.metricsAddr, readiness: cfg.readinessAddr },
    {
      log,
      registry,
      notReady,
      configDump: () => configDump({ state, certificates: () => secrets.dump(), version: VERSION, staticConfig: { ...cfg } }),
    },
  );
  const [admin, metrics, readiness] = ops.servers;
  log.info({ node: cfg.nodeName, admin: admin!.port, metrics: metrics!.port, readiness: readiness!.port }, 'ztunnel started');

  return {
    config: cfg, log, state, registry, workloads, secrets, connections, ...(xds ? { xds } : {}),
    ports: { admin: admin!.port, metrics: metrics!.port, readiness: readiness!.port },
    notReady,
    shutdown: async () => {
      if (cfg.localXdsPath) unwatchFile(cfg.localXdsPath, loadConfig);
      await zds?.close();
      await xds?.close();
      // Listeners close now; open tunnels get until the deadline, then everything is cut.
      const drained = workloads.drain();
      const deadline = Date.now() + cfg.terminationDeadlineMs;
      while (connections.count() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      connections.closeAll('drain deadline reached');
      await Promise.race([drained, new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())))]);
      workloads.close();
      void pool.close();
      secrets.close();
      caClient?.close();
      for (const f of rootFiles.values()) f.close();
      idleGc?.stop();
      await ops.close();
      log.info('ztunnel stopped');
    },
  };
}
