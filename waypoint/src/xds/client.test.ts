// Both ends of waypoint xDS in one process: the controller's WaypointXdsStore (with the workload
// ModelStore for istio.workload.Address) behind a real DeltaXdsServer on loopback, and the
// waypoint's startWaypointXds against it. Test-only import of the controller (check-deps skips
// tests): the point is that what one end writes the other end accepts.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { V1Pod } from '@kubernetes/client-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ModelStore } from '../../../controller/src/xds/store.ts';
import { modelOptions } from '../../../controller/src/model/options.ts';
import { namespace, pod, service } from '../../../controller/src/model/test-fixtures.ts';
import { WaypointXdsStore } from '../../../controller/src/waypoint-xds/store.ts';
import type { WaypointClusterState } from '../../../controller/src/waypoint-xds/build.ts';
import { createLogger } from '../../../lib/log/logger.ts';
import { Registry } from '../../../lib/metrics/registry.ts';
import { packAny, routeConfigurationCodec, ROUTE_TYPE_URL } from '../../../lib/proto/index.ts';
import { compositeStore, DeltaXdsServer, type ResourceStore, type XdsProxy, type XdsSnapshot } from '../../../lib/xds/index.ts';
import type { HttpFilterChain, TcpFilterChain } from '../config/types.ts';
import { startWaypointXds, type WaypointXds } from './client.ts';

const poll = { timeout: 10_000, interval: 10 };
const HOST = 'echo.default.svc.cluster.local';
const HTTP = `inbound-vip|80|http|${HOST}`;
const TCP9 = `inbound-vip|9000|tcp|${HOST}`;
/** Port 9090 has an undeclared protocol: both chains, the HTTP one for sniffed HTTP only. */
const SNIFF_HTTP = `inbound-vip|9090|http|${HOST}`;
const SNIFF_TCP = `inbound-vip|9090|tcp|${HOST}`;
const CHAINS = [HTTP, TCP9, SNIFF_HTTP, SNIFF_TCP];
const options = modelOptions();
const log = createLogger({ component: 'test', level: 'silent' });

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const meshPod = (name: string, ip: string, extra: Partial<Parameters<typeof pod>[0]> = {}): V1Pod =>
  pod({ name, ips: [ip], labels: { app: 'echo', version: 'v1' }, annotations: { 'ambient.istio.io/redirection': 'enabled' }, serviceAccount: 'echo', ...extra });

function clusterState(): WaypointClusterState {
  return {
    pods: [meshPod('echo-1', '10.244.1.5')],
    services: [
      service({ labels: { 'istio.io/use-waypoint': 'waypoint' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'tcp-echo', port: 9000, targetPort: 9000 }, { name: 'metrics', port: 9090, targetPort: 9090 }] }),
      // The waypoint's own Service never binds; another Service without the label neither.
      service({ name: 'waypoint', clusterIP: '10.96.0.20', labels: { 'gateway.istio.io/managed': 'istio.io-mesh-controller', 'istio.io/use-waypoint': 'waypoint' }, selector: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' } }),
      service({ name: 'other', clusterIP: '10.96.0.30' }),
    ],
    namespaces: [namespace('default')],
    waypoints: (ns, name) => (ns === 'default' && name === 'waypoint' ? { address: '10.96.0.20' } : undefined),
  };
}

/** Replaces the RDS resource `name` with `override` (a version the store never made), to provoke a NACK. */
class OverridingStore implements ResourceStore {
  readonly typeUrls: ReadonlySet<string>;
  override: { name: string; version: string; resource: ReturnType<typeof packAny> } | undefined;
  readonly #inner: ResourceStore;
  readonly #listeners = new Set<(t: ReadonlySet<string>) => void>();

  constructor(inner: ResourceStore) {
    this.#inner = inner;
    this.typeUrls = inner.typeUrls;
  }

  snapshot(typeUrl: string, proxy: XdsProxy): XdsSnapshot {
    const snap = this.#inner.snapshot(typeUrl, proxy);
    if (typeUrl !== ROUTE_TYPE_URL || !this.override) return snap;
    return new Map([...snap, [this.override.name, { version: this.override.version, resource: this.override.resource }]]);
  }

  onChange(listener: (t: ReadonlySet<string>) => void): () => void {
    this.#listeners.add(listener);
    const off = this.#inner.onChange(listener);
    return () => {
      this.#listeners.delete(listener);
      off();
    };
  }

  poke(): void {
    for (const l of this.#listeners) l(new Set([ROUTE_TYPE_URL]));
  }
}

async function startBoth(state: { current: WaypointClusterState }) {
  const model = new ModelStore(() => ({ pods: state.current.pods, services: state.current.services, namespaces: state.current.namespaces, waypoints: state.current.waypoints }), options);
  model.rebuild();
  const waypoints = new WaypointXdsStore(() => state.current, options, new Registry());
  const overriding = new OverridingStore(waypoints);
  const server = new DeltaXdsServer({ store: compositeStore(model, overriding), debounceMs: 5, maxDelayMs: 50 });
  const grpc = new Server();
  server.addTo(grpc);
  const port = await new Promise<number>((resolve, reject) => grpc.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  cleanup.push(() => {
    server.close();
    grpc.forceShutdown();
  });
  const xds: WaypointXds = startWaypointXds({
    address: `http://127.0.0.1:${port}`,
    clusterId: 'Kubernetes',
    node: { id: 'router~10.244.1.9~waypoint-5d8f-abcde.default~default.svc.cluster.local', metadata: { NAMESPACE: 'default', LABELS: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' } } },
    log,
    registry: new Registry(),
    backoff: { initialMs: 10, maxMs: 100 },
  });
  cleanup.push(() => xds.close());
  const rebuild = () => {
    model.rebuild();
    waypoints.rebuild();
  };
  return { server, xds, overriding, rebuild };
}

describe('waypoint xDS, controller to waypoint', () => {
  it('compiles what the controller serves, then takes an added pod as an update', async () => {
    const state = { current: clusterState() };
    const { xds, rebuild } = await startBoth(state);
    expect(xds.current()).toBeUndefined();
    await xds.synced();
    const c = xds.current()!;
    expect(c).toBeDefined();

    expect(c.chains.map((ch) => ch.name)).toEqual(CHAINS);
    const http = c.chains[0] as HttpFilterChain;
    expect(http).toMatchObject({
      kind: 'http',
      match: { destinationIps: [{ address: '10.96.0.10', prefixLen: 32 }], destinationPort: 80 },
      routeConfigName: HTTP,
      codec: 'auto',
      streamIdleTimeoutMs: 0,
      generateRequestId: true,
      serverName: 'istio-envoy',
      httpFilters: [{ kind: 'router', name: 'envoy.filters.http.router' }],
      service: { host: HOST, name: 'echo', namespace: 'default' },
    });
    expect(http.match.applicationProtocols).toBeUndefined();
    expect(c.chains.find((ch) => ch.name === SNIFF_HTTP)?.match).toEqual({ destinationIps: [{ address: '10.96.0.10', prefixLen: 32 }], destinationPort: 9090, applicationProtocols: ['http/1.1', 'h2c'] });
    expect(c.chains.find((ch) => ch.name === SNIFF_TCP)?.match).toEqual({ destinationIps: [{ address: '10.96.0.10', prefixLen: 32 }], destinationPort: 9090 });
    // tcp-echo is declared TCP: one chain only.
    const tcp = c.chains.find((ch) => ch.name === TCP9) as TcpFilterChain;
    expect(tcp).toMatchObject({ kind: 'tcp', clusters: [{ name: TCP9, weight: 1 }], idleTimeoutMs: 3_600_000, match: { destinationPort: 9000 } });

    expect(c.routes.get(HTTP)).toEqual({
      name: HTTP,
      virtualHosts: [
        {
          name: 'inbound|http|80',
          domains: ['*'],
          routes: [
            {
              name: 'default',
              match: { path: { kind: 'prefix', value: '/' }, caseSensitive: true, headers: [], queryParams: [] },
              action: { kind: 'route', clusters: [{ name: HTTP, weight: 1 }], timeoutMs: 0, retry: { retryOn: ['reset-before-request'], numRetries: 2, perTryTimeoutMs: 0, retriableStatusCodes: [], backoffBaseMs: 25 } },
              decorator: `${HOST}:80/*`,
            },
          ],
        },
      ],
    });
    const cluster = c.clusters.get(HTTP)!;
    expect(cluster).toMatchObject({
      lbPolicy: 'LEAST_REQUEST',
      connectTimeoutMs: 10_000,
      upstreamProtocol: 'downstream',
      services: [{ host: HOST, name: 'echo', namespace: 'default' }],
      circuitBreakers: { maxConnections: 4294967295, maxPendingRequests: 4294967295, maxRequests: 4294967295, maxRetries: 4294967295 },
    });
    expect(cluster.endpoints).toEqual([
      {
        address: '10.244.1.5',
        port: 8080,
        tunnel: 'hbone',
        identity: 'spiffe://cluster.local/ns/default/sa/echo',
        healthy: true,
        weight: 1,
        workload: { name: 'echo-1', namespace: 'default', canonicalService: 'echo', canonicalRevision: 'v1', cluster: 'Kubernetes' },
      },
    ]);
    // The HBONE plumbing is not routable.
    expect([...c.clusters.keys()].sort()).toEqual([...CHAINS].sort());
    expect(c.clusters.get(TCP9)?.endpoints.map((e) => `${e.address}:${e.port}`)).toEqual(['10.244.1.5:9000']);
    // Peers come from the Address set.
    await vi.waitFor(() => expect(xds.peers.findByIp('10.244.1.5')).toMatchObject({ name: 'echo-1', namespace: 'default', serviceAccount: 'echo', identity: 'spiffe://cluster.local/ns/default/sa/echo', canonicalService: 'echo', canonicalRevision: 'v1', cluster: 'Kubernetes' }), poll);

    const seen: string[] = [];
    xds.onConfig((cfg) => seen.push(cfg.version));
    state.current = { ...state.current, pods: [...state.current.pods, pod({ name: 'plain-2', ips: ['10.244.2.7'], labels: { app: 'echo' }, ready: false })] };
    rebuild();
    await vi.waitFor(() => expect(xds.current()!.clusters.get(HTTP)!.endpoints).toHaveLength(2), poll);
    expect(xds.current()!.clusters.get(HTTP)!.endpoints[1]).toMatchObject({ address: '10.244.2.7', port: 8080, tunnel: 'plaintext', healthy: false });
    expect(seen.length).toBeGreaterThan(0);
    // Only EDS changed: the listener and route configuration are the same objects' content.
    expect(xds.current()!.chains.map((ch) => ch.name)).toEqual(CHAINS);
    await vi.waitFor(() => expect(xds.peers.findByIp('10.244.2.7')?.name).toBe('plain-2'), poll);
  });

  it('refuses a bad route configuration: the last good one stays, the NACK shows in both dumps', async () => {
    const state = { current: clusterState() };
    const { xds, server, overriding } = await startBoth(state);
    await xds.synced();
    const good = xds.current()!.routes.get(HTTP)!;

    // A route configuration of the same name with a regex RE2 refuses (lookahead).
    overriding.override = {
      name: HTTP,
      version: 'bad-1',
      resource: packAny(routeConfigurationCodec, {
        name: HTTP,
        virtualHosts: [{ name: 'inbound|http|80', domains: ['*'], routes: [{ name: 'bad', match: { pathSpecifier: { $case: 'safeRegex', safeRegex: { regex: '/(?=admin)' } } }, action: { $case: 'route', route: { clusterSpecifier: { $case: 'cluster', cluster: HTTP } } } }] }],
      }),
    };
    overriding.poke();

    await vi.waitFor(() => {
      const conn = server.dump().connections[0]!;
      expect(conn.types[ROUTE_TYPE_URL]?.lastNack?.message).toContain('invalid RE2 regex');
    }, poll);
    expect(xds.current()!.routes.get(HTTP)).toEqual(good);
    const msg = server.dump().connections[0]!.types[ROUTE_TYPE_URL]!.lastNack!.message;
    expect(msg).toContain(`${HTTP}.virtual_hosts[0].routes[0].match.safe_regex.regex: invalid RE2 regex`);

    const dump = xds.configDump() as { configs: Record<string, unknown>[] };
    const routes = dump.configs.find((c) => c['@type'] === 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump') as { dynamic_route_configs: Record<string, unknown>[] };
    const entry = routes.dynamic_route_configs.find((r) => (r['route_config'] as { name?: string } | undefined)?.name === HTTP)!;
    expect(entry['version_info']).not.toBe('bad-1');
    expect(entry['route_config']).toMatchObject({ '@type': ROUTE_TYPE_URL, name: HTTP, virtual_hosts: [{ name: 'inbound|http|80', domains: ['*'] }] });
    const err = entry['error_state'] as { failed_configuration: Record<string, unknown>; last_update_attempt: string; details: string };
    expect(err.details).toContain('safe_regex.regex: invalid RE2 regex');
    expect(err.failed_configuration).toMatchObject({ '@type': ROUTE_TYPE_URL, name: HTTP, virtual_hosts: [{ routes: [{ name: 'bad', match: { safe_regex: { regex: '/(?=admin)' } } }] }] });
    expect(Date.parse(err.last_update_attempt)).not.toBeNaN();
    const listeners = dump.configs.find((c) => c['@type'] === 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump') as { version_info: string; dynamic_listeners: { name: string; active_state: { listener: Record<string, unknown> } }[] };
    // The server's system_version_info of the last LDS response.
    expect(listeners.version_info).toMatch(/^\d+$/);
    expect(listeners.dynamic_listeners.map((l) => l.name)).toEqual(['connect_terminate', 'main_internal']);
    expect(listeners.dynamic_listeners[1]!.active_state.listener).toMatchObject({ '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener', name: 'main_internal', internal_listener: {} });
  });
});
