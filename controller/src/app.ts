// The controller's composition root (istiod's role for ambient): informers → model → workload xDS
// store served by the delta xDS server; the CA on the same gRPC server; leader election for the
// writes (the published root ConfigMaps, the waypoint deployer); monitoring with metrics,
// readiness and a debug dump of what each connected ztunnel holds.
import { Server, ServerCredentials, experimental } from '@grpc/grpc-js';
import { KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { json, startOpsServer, text, type OpsServer } from '../../lib/admin/http-server.ts';
import { createLogger, type Logger } from '../../lib/log/logger.ts';
import { PROMETHEUS_CONTENT_TYPE, Registry } from '../../lib/metrics/registry.ts';
import { registerProcessMetrics } from '../../lib/metrics/process.ts';
import { istioCertificateServiceDefinition } from '../../lib/proto/index.ts';
import { compositeStore, DeltaXdsServer } from '../../lib/xds/index.ts';
import type { PodFacts } from './ca/authorize.ts';
import { kubeSecretStore, publishRoot, readPublishedRoot, tokenReviewer } from './ca/kube.ts';
import { loadCa } from './ca/root.ts';
import { CaRotation } from './ca/rotation.ts';
import { createCertificateHandler } from './ca/service.ts';
import type { ControllerConfig } from './config.ts';
import { watchCrds } from './kube/crd-watch.ts';
import { allInformers, createInformers, customResourceInformers, type ControllerInformers } from './kube/informers.ts';
import { LeaderElector } from './leader/lease.ts';
import { modelObjectKey, modelOptions, waypointLookupFromGateways, type AuthorizationPolicy, type Gateway, type GatewayClass, type ModelChange, type ModelObjectKind, type ModelObjects, type ModelSnapshot, type PeerAuthentication } from './model/index.ts';
import { WaypointDeployer, type WaypointSources } from './waypoint/deployer.ts';
import { FIELD_MANAGER, kubeWaypointWriter } from './waypoint/kube.ts';
import { kubeRouteStatusPatcher } from './route-status/kube.ts';
import { RouteStatusWriter, type RouteStatusSources } from './route-status/writer.ts';
import type { DestinationRule, GRPCRoute, HTTPRoute, VirtualService } from './waypoint-xds/traffic-types.ts';
import { WaypointXdsStore } from './waypoint-xds/index.ts';
import { ServingCertificateProvider } from './ca/serving-cert.ts';
import { xdsAuthenticator } from './xds/auth.ts';
import { ModelStore, type RebuildResult } from './xds/store.ts';

export interface Controller {
  config: ControllerConfig;
  log: Logger;
  registry: Registry;
  informers: ControllerInformers;
  store: ModelStore;
  xds: DeltaXdsServer;
  ports: { grpc: number; grpcTls: number; monitoring: number };
  isLeader(): boolean;
  close(): Promise<void>;
}

function podFacts(p: V1Pod | undefined): PodFacts | undefined {
  if (!p?.metadata?.uid) return undefined;
  return { uid: p.metadata.uid, namespace: p.metadata.namespace ?? '', serviceAccount: p.spec?.serviceAccountName ?? 'default', nodeName: p.spec?.nodeName ?? '', phase: p.status?.phase ?? 'Pending' };
}

function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromCluster();
  return kc;
}

export async function startController(cfg: ControllerConfig, opts: { log?: Logger } = {}): Promise<Controller> {
  const log = opts.log ?? createLogger({ component: 'controller', level: cfg.logLevel });
  const registry = new Registry();
  registerProcessMetrics(registry);
  const kc = loadKubeConfig(cfg.kubeconfig);
  const informers = createInformers(kc, log);

  const snapshot = (): ModelSnapshot => ({
    pods: informers.pods.list(),
    services: informers.services.list(),
    namespaces: informers.namespaces.list(),
    nodes: informers.nodes.list(),
    endpointSlices: informers.endpointSlices.list(),
    authorizationPolicies: informers.authorizationPolicies.list() as unknown as AuthorizationPolicy[],
    peerAuthentications: informers.peerAuthentications.list() as unknown as PeerAuthentication[],
    gateways: informers.gateways.list() as unknown as Gateway[],
    gatewayClasses: informers.gatewayClasses.list() as unknown as GatewayClass[],
  });
  const options = modelOptions({ clusterId: cfg.clusterId, domainSuffix: cfg.domainSuffix, rootNamespace: cfg.rootNamespace, trustDomain: cfg.trustDomain });
  const store = new ModelStore(snapshot, options);
  // Envoy xDS for waypoints (per waypoint, from the same caches); served beside the workload types.
  const waypointStore = new WaypointXdsStore(() => {
    const s = snapshot();
    return {
      ...s,
      waypoints: waypointLookupFromGateways(s.gateways ?? [], s.gatewayClasses),
      virtualServices: informers.virtualServices.list() as unknown as VirtualService[],
      destinationRules: informers.destinationRules.list() as unknown as DestinationRule[],
      httpRoutes: informers.httpRoutes.list() as unknown as HTTPRoute[],
      grpcRoutes: informers.grpcRoutes.list() as unknown as GRPCRoute[],
    };
  }, options, registry);
  const rebuilds = registry.counter('controller_model_rebuilds_total', 'Updates of the xDS resource set from the informer caches: full (startup) or incremental (a batch of informer events)', ['kind']);
  const rebuildSeconds = registry.counter('controller_model_rebuild_seconds_total', 'Time spent updating the xDS resource set, by kind (full|incremental)', ['kind']);
  const rebuiltResources = registry.counter('controller_model_resources_built_total', 'Resources the model rebuilt (builder calls), by resource kind', ['resource']);
  const resourcesGauge = registry.gauge('controller_xds_resources', 'Resources in the workload xDS set by type', ['type_url']);
  const diagnosticsSeen = new Set<string>();

  // Informer events, coalesced per object (the last one wins) until the next update; the xDS
  // server debounces pushes on top. Before the first full rebuild nothing is applied: that rebuild
  // reads every cache.
  const pending = new Map<string, ModelChange>();
  let started = false;
  let rebuildTimer: NodeJS.Timeout | undefined;
  const report = (r: RebuildResult) => {
    rebuilds.inc({ kind: r.kind });
    rebuildSeconds.inc({ kind: r.kind }, r.durationMs / 1000);
    for (const [resource, n] of Object.entries(r.built)) if (n) rebuiltResources.inc({ resource }, n);
    for (const [t, n] of Object.entries(r.counts)) resourcesGauge.set({ type_url: t }, n);
    for (const d of r.diagnostics) {
      const key = `${d.kind}/${d.namespace}/${d.name}: ${d.message}`;
      if (diagnosticsSeen.has(key)) continue;
      diagnosticsSeen.add(key);
      log.warn({ kind: d.kind, object: `${d.namespace}/${d.name}`, severity: d.severity }, d.message);
    }
  };
  const rebuildWaypoints = () => {
    const w = waypointStore.rebuild();
    // Traffic objects (VirtualService, DestinationRule, HTTPRoute, GRPCRoute): each problem logged once.
    for (const d of w.diagnostics) {
      const key = `${d.kind}/${d.namespace}/${d.name}: ${d.reason}: ${d.message}`;
      if (diagnosticsSeen.has(key)) continue;
      diagnosticsSeen.add(key);
      log.warn({ kind: d.kind, object: `${d.namespace}/${d.name}`, severity: d.severity, reason: d.reason }, d.message);
    }
  };
  /** Startup (and resync): everything from the caches. */
  const rebuild = () => {
    pending.clear();
    report(store.rebuild());
    rebuildWaypoints();
  };
  const update = () => {
    rebuildTimer = undefined;
    if (!started) return;
    const changes = [...pending.values()];
    pending.clear();
    if (changes.length) report(store.apply(changes));
    rebuildWaypoints();
  };
  const scheduleUpdate = () => {
    rebuildTimer ??= setTimeout(update, 10);
  };
  const feed = <K extends ModelObjectKind>(kind: K, informer: { on(e: 'add' | 'update' | 'delete', fn: (o: ModelObjects[K]) => void): unknown }) => {
    const queue = (deleted: boolean) => (object: ModelObjects[K]) => {
      if (started) pending.set(`${kind}|${modelObjectKey(kind, object.metadata)}`, { kind, object, deleted } as ModelChange);
      scheduleUpdate();
    };
    informer.on('add', queue(false));
    informer.on('update', queue(false));
    informer.on('delete', queue(true));
  };
  type Feed<K extends ModelObjectKind> = Parameters<typeof feed<K>>[1];
  feed('Pod', informers.pods);
  feed('Service', informers.services);
  feed('Namespace', informers.namespaces);
  feed('Node', informers.nodes);
  feed('EndpointSlice', informers.endpointSlices);
  feed('AuthorizationPolicy', informers.authorizationPolicies as unknown as Feed<'AuthorizationPolicy'>);
  feed('PeerAuthentication', informers.peerAuthentications as unknown as Feed<'PeerAuthentication'>);
  feed('Gateway', informers.gateways as unknown as Feed<'Gateway'>);
  feed('GatewayClass', informers.gatewayClasses as unknown as Feed<'GatewayClass'>);
  // The other kinds only feed the waypoints' Envoy xDS.
  const modelFed = new Set<unknown>([informers.pods, informers.services, informers.namespaces, informers.nodes, informers.endpointSlices, informers.authorizationPolicies, informers.peerAuthentications, informers.gateways, informers.gatewayClasses]);
  for (const inf of allInformers(informers)) if (!modelFed.has(inf)) inf.on('add', scheduleUpdate).on('update', scheduleUpdate).on('delete', scheduleUpdate);
  for (const inf of allInformers(informers)) inf.start();
  // Serve with the kinds that are installed (istiod does the same); a missing CRD's kind is synced
  // empty, and picked up when the CRD appears.
  const crdWatch = watchCrds(kc, customResourceInformers(informers), log);
  crdWatch.start();
  await Promise.all(allInformers(informers).map((i) => i.synced()));
  const missingKinds = allInformers(informers).filter((i) => i.isMissing).map((i) => i.path);
  if (missingKinds.length) log.warn({ missing: missingKinds }, 'serving without these kinds (CRDs not installed); they are picked up when installed');
  started = true;
  rebuild();

  const ttls = { defaultTtlSeconds: Math.max(1, Math.round(cfg.workloadCertTtlMs / 1000)), maxTtlSeconds: Math.max(1, Math.round(cfg.maxWorkloadCertTtlMs / 1000)) };
  const secretStore = kubeSecretStore(kc);
  const loaded = await loadCa(secretStore, { namespace: cfg.systemNamespace, trustDomain: cfg.trustDomain, log, ttls });
  // Root rotation: the material is re-read every CA_SECRET_RELOAD_INTERVAL; a new signer's roots
  // are trusted (and published) for CA_TRUST_SPREAD_PERIOD before it signs, the old roots kept for
  // CA_TRUST_RETIRE_PERIOD at least after it stops.
  const rotation = await CaRotation.create(loaded, { spreadMs: cfg.caTrustSpreadMs, retireMs: cfg.caTrustRetireMs, log: log.child({ scope: 'ca' }), registry }, await readPublishedRoot(kc, cfg.systemNamespace));
  let reloadError = '';
  const reloadCa = async () => {
    try {
      await rotation.offer(await loadCa(secretStore, { namespace: cfg.systemNamespace, trustDomain: cfg.trustDomain, ttls }));
      await rotation.tick();
      reloadError = '';
    } catch (err) {
      // Bad material (a half-written cacerts) keeps the current signer; said once per distinct error.
      const msg = (err as Error).message;
      if (msg !== reloadError) log.error({ err: msg }, 'CA: reloading the signing material failed; keeping the current one');
      reloadError = msg;
    }
  };
  let reloading: Promise<void> | undefined;
  const caReload = setInterval(() => {
    reloading ??= reloadCa().finally(() => (reloading = undefined));
  }, cfg.caReloadMs);
  caReload.unref();
  const reviewToken = tokenReviewer(kc, cfg.tokenAudiences);
  const createCertificate = createCertificateHandler({
    ca: () => rotation,
    reviewToken,
    getPod: (ns, name) => podFacts(informers.pods.get(`${ns}/${name}`)),
    podsOnNode: (node) => informers.pods.list().filter((p) => p.spec?.nodeName === node).map((p) => podFacts(p)!).filter(Boolean),
    trustDomain: cfg.trustDomain,
    trustedNodeAccounts: cfg.trustedNodeAccounts,
    log: log.child({ scope: 'ca' }),
    registry,
  });

  // The same services on two listeners: plaintext (15010, lab and tests) and TLS with our own
  // serving certificate (15012, ztunnel's default).
  // Renewed at 80% of its lifetime; grpc-js swaps the secure context, open streams stay up.
  const serving = await ServingCertificateProvider.start({
    issue: () =>
      rotation.issueServingCertificate({
        dnsNames: [`istiod.${cfg.systemNamespace}.svc`, `istiod.${cfg.systemNamespace}.svc.${cfg.domainSuffix}`, 'istiod', 'localhost'],
        ipAddresses: ['127.0.0.1'],
        spiffeId: `spiffe://${cfg.trustDomain}/ns/${cfg.systemNamespace}/sa/istiod`,
        ttlSeconds: Math.max(1, Math.round(cfg.servingCertTtlMs / 1000)),
      }),
    log: log.child({ scope: 'serving-cert' }),
    registry,
  });
  // grpc-js's exported factory takes (identity, ca) in the constructor's order despite its parameter names.
  const tls = experimental.createCertificateProviderServerCredentials(serving, null, false);
  // xDS callers authenticated as the CA's (XDS_AUTH=false turns it off, as istiod's env does).
  const authenticate = cfg.xdsAuth ? xdsAuthenticator({ reviewToken, log: log.child({ scope: 'xds-auth' }), registry }) : undefined;
  const xds = new DeltaXdsServer({ store: compositeStore(store, waypointStore), ...(authenticate ? { authenticate } : {}), registry, log: log.child({ scope: 'xds' }), debounceMs: cfg.debounceMs, maxDelayMs: cfg.debounceMaxMs });
  const grpcServers: Server[] = [];
  const serve = async (addr: { host: string; port: number }, creds: ServerCredentials): Promise<number> => {
    const grpc = new Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.max_send_message_length': 256 * 1024 * 1024 });
    xds.addTo(grpc);
    grpc.addService(istioCertificateServiceDefinition, { CreateCertificate: createCertificate });
    grpcServers.push(grpc);
    return new Promise<number>((resolve, reject) => grpc.bindAsync(`${addr.host}:${addr.port}`, creds, (err, port) => (err ? reject(err) : resolve(port))));
  };
  const grpcPort = await serve(cfg.grpcAddr, ServerCredentials.createInsecure());
  const grpcTlsPort = await serve(cfg.grpcTlsAddr, tls);


  // Writes happen on the leader only: the root published to every namespace, kept in place.
  let leading = false;
  const publish = () => {
    if (!leading) return;
    publishRoot(kc, informers.namespaces.list(), rotation.bundlePem).then(
      (n) => n && log.info({ configmaps: n }, 'published the CA root'),
      (err: Error) => log.warn({ err: err.message }, 'publishing the CA root failed'),
    );
  };
  informers.namespaces.on('add', publish);
  rotation.onChange(({ bundleChanged, signerChanged }) => {
    if (bundleChanged) publish();
    if (signerChanged) serving.renewNow();
  });
  const republish = setInterval(publish, 60_000);
  republish.unref();
  // Waypoint Deployments/Services from Gateways of class istio-waypoint, and their status (leader only).
  const waypoints = new WaypointDeployer({
    sources: {
      gateways: informers.gateways as unknown as WaypointSources['gateways'],
      gatewayClasses: informers.gatewayClasses as unknown as WaypointSources['gatewayClasses'],
      deployments: informers.waypointDeployments,
      services: informers.services,
      serviceAccounts: informers.serviceAccounts,
      endpointSlices: informers.endpointSlices,
    },
    writer: kubeWaypointWriter(kc),
    render: { image: cfg.waypointImage, systemNamespace: cfg.systemNamespace, discoveryAddress: cfg.discoveryAddress, clusterId: cfg.clusterId, trustDomain: cfg.trustDomain, domainSuffix: cfg.domainSuffix, extraEnv: cfg.waypointExtraEnv },
    log,
    registry,
  });
  // HTTPRoute/GRPCRoute status.parents for Service parents (leader only).
  const routeStatus = new RouteStatusWriter({
    sources: {
      httpRoutes: informers.httpRoutes as unknown as RouteStatusSources['httpRoutes'],
      grpcRoutes: informers.grpcRoutes as unknown as RouteStatusSources['grpcRoutes'],
      services: informers.services,
      namespaces: informers.namespaces,
      others: [informers.gateways as unknown as RouteStatusSources['httpRoutes']],
      waypoints: () => waypointLookupFromGateways(informers.gateways.list() as unknown as Gateway[], informers.gatewayClasses.list() as unknown as GatewayClass[]),
    },
    patcher: kubeRouteStatusPatcher(kc, FIELD_MANAGER),
    log,
    registry,
  });
  const elector = new LeaderElector({
    kubeconfig: kc, namespace: cfg.systemNamespace, name: 'ambient-controller', identity: cfg.podName, log,
    onStartedLeading: () => {
      leading = true;
      publish();
      waypoints.start();
      routeStatus.start();
    },
    onStoppedLeading: () => {
      leading = false;
      waypoints.stop();
      routeStatus.stop();
    },
  });
  elector.start();

  const onError = (err: Error) => log.error({ err: err.message }, 'monitoring handler failed');
  const monitoring: OpsServer = await startOpsServer(cfg.monitoringAddr.host, cfg.monitoringAddr.port, {
    '/metrics': () => ({ contentType: PROMETHEUS_CONTENT_TYPE, body: registry.render() }),
    '/ready': () => (allInformers(informers).every((i) => i.isSynced) ? text('ready\n') : text('not ready: informers syncing\n', 503)),
    '/debug/connections': () => json(xds.dump()),
    '/debug/leader': () => json({ leader: leading, identity: cfg.podName }),
  }, onError);

  log.info({ grpc: grpcPort, grpcTls: grpcTlsPort, monitoring: monitoring.port, ca: rotation.source }, 'controller ready');
  return {
    config: cfg, log, registry, informers, store, xds,
    ports: { grpc: grpcPort, grpcTls: grpcTlsPort, monitoring: monitoring.port },
    isLeader: () => leading,
    close: async () => {
      clearInterval(republish);
      clearInterval(caReload);
      await reloading;
      if (rebuildTimer) clearTimeout(rebuildTimer);
      elector.stop();
      serving.stop();
      waypoints.stop();
      routeStatus.stop();
      xds.close();
      await Promise.all(grpcServers.map((g) => new Promise<void>((r) => g.tryShutdown(() => r()))));
      crdWatch.stop();
      for (const i of allInformers(informers)) i.stop();
      await monitoring.close();
      log.info('controller stopped');
    },
  };
}
