// The node agent's composition root: the ZDS server ztunnel connects to, the per-pod dataplane
// (rules, probe set, annotation), the informers and the reconcile queue, and the ops servers
// (readiness on 8000 /readyz, metrics). Ready once the host rules are in, the caches are synced and
// every pod of the node was reconciled.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startOpsServer, text, type OpsServer } from '../../lib/admin/http-server.ts';
import { createLogger, type Logger } from '../../lib/log/logger.ts';
import { PROMETHEUS_CONTENT_TYPE, Registry } from '../../lib/metrics/registry.ts';
import { registerProcessMetrics } from '../../lib/metrics/process.ts';
import { openNetns } from '../../lib/netns/index.ts';
import { addProbeTargetsAsync, applyHostProbeRules, removeHostProbeRules, applyInpodRulesAsync, removeInpodRulesAsync, removeProbeTargetsAsync, type NetnsPath } from '../../lib/redirect/index.ts';
import { ZdsServer } from '../../lib/zds/index.ts';
import { PLUGIN_BUNDLE_NAME, renderLauncher } from '../plugin/launcher.ts';
import { writeEnrollmentStateFile } from '../shared/enrollment-state.ts';
import { PLUGIN_TYPE, type CmdAddAnswer, type CmdAddEvent } from '../shared/plugin-event.ts';
import type { AgentConfig } from './config.ts';
import { MeshDataplane } from './dataplane.ts';
import { ambientNamespaces, decideEnrollment } from './enrollment.ts';
import { PluginInstaller } from './install.ts';
import { AgentKube } from './kube.ts';
import { NetnsIndex } from './netns-finder.ts';
import { startPluginServer } from './plugin-server.ts';
import { Reconciler } from './reconciler.ts';
import { linkZtunnel } from './ztunnel-link.ts';

export interface NodeAgent {
  config: AgentConfig;
  log: Logger;
  registry: Registry;
  kube: AgentKube;
  dataplane: MeshDataplane;
  reconciler: Reconciler;
  zds: ZdsServer;
  ports: { readiness: number; metrics: number };
  ready(): boolean;
  /** On SIGTERM: is the agent's DaemonSet gone (uninstall) rather than rolling (upgrade)? */
  isUninstalling(): Promise<boolean>;
  /**
   * Stops. Default (restart, upgrade): captured pods stay captured for the next agent. `uninstall`:
   * every pod is released first (rules out, ztunnel told, annotation removed), then the plugin and
   * the host probe rules leave the node.
   */
  close(opts?: { uninstall?: boolean }): Promise<void>;
}

/** Our plugin's place in the node's chain; the agent keeps it there (see uninstall for removal). */
export function pluginInstaller(cfg: AgentConfig, stateFile: string, log: Logger, repairs?: { inc(): void }): PluginInstaller {
  // The runtime runs the plugin on the node, where the agent's container is not visible: the node
  // binary and the one-file plugin are copied into <binDir>/ambient-cni.d/ and the launcher runs those.
  const dir = join(cfg.cniBinDir, `${PLUGIN_TYPE}.d`);
  return new PluginInstaller({
    netDir: cfg.cniNetDir,
    binDir: cfg.cniBinDir,
    entry: { type: PLUGIN_TYPE, pluginEventSocket: cfg.pluginEventSocket, enrollmentStateFile: stateFile, excludeNamespaces: [...cfg.excludedNamespaces] },
    executable: renderLauncher({ nodePath: join(dir, 'node'), mainPath: join(dir, PLUGIN_BUNDLE_NAME), compileCacheDir: join(cfg.cniBinDir, '.ambient-cni-cache') }),
    payload: { node: process.execPath, [PLUGIN_BUNDLE_NAME]: cfg.cniPluginBundle },
    log,
    ...(repairs ? { onReinstall: () => repairs.inc() } : {}),
  });
}

export const enrollmentStateFile = (cfg: AgentConfig): string => join(cfg.cniNetDir, 'ambient-namespaces.state');

export async function startNodeAgent(cfg: AgentConfig, opts: { log?: Logger } = {}): Promise<NodeAgent> {
  const log = opts.log ?? createLogger({ component: 'cni-agent', level: cfg.logLevel });
  // Checked before anything starts: without it every pod creation on the node would fail.
  if (!existsSync(cfg.cniPluginBundle)) throw new Error(`CNI_PLUGIN_BUNDLE ${cfg.cniPluginBundle}: the CNI plugin bundle is missing; build it with \`make cni-plugin\` (node scripts/build-cni-plugin.ts)`);
  const registry = new Registry();
  registerProcessMetrics(registry);
  const enrolled = registry.counter('istio_cni_pods_enrolled_total', 'Pods captured into the mesh by this agent', []);
  const unenrolled = registry.counter('istio_cni_pods_unenrolled_total', 'Pods released from the mesh by this agent', []);
  const failures = registry.counter('istio_cni_enrollment_failures_total', 'Pods the agent failed to capture (retried)', []);
  const redirectOpts = { dnsCapture: cfg.dnsCapture };
  const host: NetnsPath = { path: cfg.hostNetns || `/proc/${process.pid}/ns/net` };

  applyHostProbeRules(host, redirectOpts, cfg.flavour);

  let dataplane!: MeshDataplane;
  const zds = ZdsServer.listen({
    path: cfg.ztunnelUds,
    snapshot: () => dataplane.snapshot(),
    ...(cfg.ztunnelUid !== undefined ? { allowedPeerUids: [cfg.ztunnelUid] } : {}),
    log: log.child({ scope: 'zds' }),
  });
  let kube!: AgentKube;
  dataplane = new MeshDataplane({
    // Off the event loop: ZDS, the plugin socket and the informers keep being served meanwhile.
    rules: { apply: (n) => applyInpodRulesAsync(n, redirectOpts, cfg.flavour), remove: (n) => removeInpodRulesAsync(n, cfg.flavour, redirectOpts) },
    probes: { add: (ips) => addProbeTargetsAsync(host, ips, cfg.flavour, redirectOpts), remove: (ips) => removeProbeTargetsAsync(host, ips, cfg.flavour, redirectOpts) },
    ztunnel: { add: (uid, info, fd) => zds.addWorkload(uid, info, fd), del: (uid) => zds.delWorkload(uid) },
    annotate: (pod, state) => kube.annotate(pod, state).catch((err: Error) => log.warn({ pod: `${pod.namespace}/${pod.name}`, err: err.message }, 'could not annotate the pod')),
    log,
    onEnrolled: () => enrolled.inc(),
    onUnenrolled: () => unenrolled.inc(),
  });
  linkZtunnel(zds, dataplane, registry, log);
  const netnsIndex = new NetnsIndex();

  const reconciler = new Reconciler({
    dataplane,
    findNetns: (ips) => netnsIndex.find(ips),
    namespace: (n) => kube.namespace(n),
    pods: () => kube.listPods(),
    excludedNamespaces: cfg.excludedNamespaces,
    log,
    onError: (pod, err) => {
      failures.inc();
      log.error({ pod: `${pod.namespace}/${pod.name}`, err: err.message }, 'capturing the pod failed');
    },
  });
  kube = new AgentKube(cfg.kubeconfig, cfg.nodeName, {
    podChanged: (p) => void reconciler.podChanged(p),
    podDeleted: (p) => void reconciler.podDeleted(p),
    namespaceChanged: (n) => {
      writeState();
      void reconciler.namespaceChanged(n);
    },
  }, log);
  // What the plugin reads on every ADD to know, without asking, whether a pod may be ambient.
  const stateFile = enrollmentStateFile(cfg);
  const writeState = (): void => {
    try {
      writeEnrollmentStateFile(stateFile, ambientNamespaces(kube.listNamespaces(), cfg.excludedNamespaces));
    } catch (err) {
      log.error({ file: stateFile, err: (err as Error).message }, 'cannot write the enrollment state file');
    }
  };

  // CNI ADD: the pod object exists (the scheduler bound it) but its IP is only in the event.
  const handleAdd = async (e: CmdAddEvent): Promise<CmdAddAnswer> => {
    const pod = { ...(await kube.getPod(e.podNamespace, e.podName)), podIps: e.ips };
    if (e.podUid && e.podUid !== pod.uid) throw new Error(`pod ${e.podNamespace}/${e.podName} has uid ${pod.uid}, the runtime says ${e.podUid}`);
    const d = decideEnrollment(pod, kube.namespace(pod.namespace) ?? (await kube.getNamespace(pod.namespace)), cfg.excludedNamespaces);
    if (!d.enroll) return { captured: false, reason: d.reason };
    const captured = await reconciler.captureNew(pod, () => openNetns(e.netns));
    return captured ? { captured: true } : { captured: false, reason: 'not ambient any more' };
  };
  const pluginEvents = registry.counter('istio_cni_plugin_events_total', 'CNI plugin ADD events by result', ['result']);

  let isReady = false;
  const servers: OpsServer[] = [];
  const onError = (err: Error) => log.error({ err: err.message }, 'ops handler failed');
  servers.push(await startOpsServer(cfg.readinessAddr.host, cfg.readinessAddr.port, {
    '/readyz': () => (isReady ? text('ready\n') : text('not ready: reconciling the node\n', 503)),
  }, onError));
  const metrics = () => ({ contentType: PROMETHEUS_CONTENT_TYPE, body: registry.render() });
  servers.push(await startOpsServer(cfg.metricsAddr.host, cfg.metricsAddr.port, { '/metrics': metrics }, onError));

  await kube.start();
  writeState();
  const pluginServer = await startPluginServer(cfg.pluginEventSocket, { handleAdd, log: log.child({ scope: 'plugin-events' }), events: pluginEvents });
  // Into the chain only once the state file and the event socket are there for the plugin to use.
  const installer = pluginInstaller(cfg, stateFile, log, registry.counter('istio_cni_install_repairs_total', 'Times the plugin was re-inserted into a rewritten CNI config', []));
  installer.install();
  installer.watch();
  await reconciler.resyncAll();
  isReady = true;
  log.info({ node: cfg.nodeName, pods: dataplane.uids().length, readiness: servers[0]!.port, metrics: servers[1]!.port, zds: cfg.ztunnelUds }, 'node agent ready');

  return {
    config: cfg, log, registry, kube, dataplane, reconciler, zds,
    ports: { readiness: servers[0]!.port, metrics: servers[1]!.port },
    ready: () => isReady,
    isUninstalling: async () => (cfg.podName && cfg.podNamespace ? (await kube.ownerDaemonSetGone(cfg.podNamespace, cfg.podName)) === true : false),
    // Leaves the pods captured (rules stay; a restarted agent picks them up), as Istio's agent does,
    // unless the mesh is being uninstalled.
    close: async (opts = {}) => {
      installer.stopWatching();
      await new Promise((r) => pluginServer.close(r));
      await reconciler.close();
      if (opts.uninstall) {
        log.info({ pods: dataplane.uids().length }, 'uninstall: releasing every captured pod and removing the plugin');
        for (const uid of dataplane.uids()) await dataplane.unenroll(uid, { podGone: false });
        installer.uninstall();
        rmSync(stateFile, { force: true });
        try {
          removeHostProbeRules(host, cfg.flavour, redirectOpts);
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'removing the host probe rules failed');
        }
      }
      await kube.stop();
      zds.close();
      dataplane.close();
      await Promise.all(servers.map((s) => s.close()));
      log.info('node agent stopped');
    },
  };
}
