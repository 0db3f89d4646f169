import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../lib/log/logger.ts';
import { Registry } from '../../../lib/metrics/registry.ts';
import type { Cluster, WaypointConfig } from '../config/types.ts';
import { renderClusters } from './clusters.ts';
import { startOpsServers, type OpsServers } from './servers.ts';

function cluster(name: string, endpoints: Cluster['endpoints']): Cluster {
  return {
    name,
    lbPolicy: 'ROUND_ROBIN',
    connectTimeoutMs: 10_000,
    upstreamProtocol: 'downstream',
    services: [],
    circuitBreakers: { maxConnections: 4294967295, maxPendingRequests: 4294967295, maxRequests: 4294967295, maxRetries: 4294967295 },
    idleTimeoutMs: 0,
    maxRequestsPerConnection: 0,
    endpoints,
  };
}

const CONFIG: WaypointConfig = {
  version: '1',
  chains: [],
  routes: new Map(),
  clusters: new Map([
    [
      'inbound-vip|9080|http|reviews.bookinfo.svc.cluster.local',
      cluster('inbound-vip|9080|http|reviews.bookinfo.svc.cluster.local', [
        { address: '10.244.1.9', port: 9080, tunnel: 'hbone', healthy: true, weight: 1 },
        { address: 'fd00::9', port: 9080, tunnel: 'plaintext', healthy: false, weight: 3 },
      ]),
    ],
  ]),
};

describe('renderClusters', () => {
  it("prints Envoy's cluster::host::health_flags lines", () => {
    const text = renderClusters(CONFIG);
    const c = 'inbound-vip|9080|http|reviews.bookinfo.svc.cluster.local';
    expect(text.split('\n')).toEqual([
      `${c}::observability_name::${c}`,
      `${c}::default_priority::max_connections::4294967295`,
      `${c}::default_priority::max_pending_requests::4294967295`,
      `${c}::default_priority::max_requests::4294967295`,
      `${c}::default_priority::max_retries::4294967295`,
      `${c}::10.244.1.9:9080::health_flags::healthy`,
      `${c}::10.244.1.9:9080::weight::1`,
      `${c}::[fd00::9]:9080::health_flags::/failed_eds_health`,
      `${c}::[fd00::9]:9080::weight::3`,
      '',
    ]);
  });

  it('is empty before the first config', () => expect(renderClusters(undefined)).toBe(''));
});

describe('startOpsServers', () => {
  let ops: OpsServers | undefined;
  afterEach(async () => {
    await ops?.close();
    ops = undefined;
  });

  it('serves the admin, stats and readiness endpoints', async () => {
    const registry = new Registry();
    registry.counter('istio_requests_total', 'requests', []).inc();
    const log = createLogger({ component: 'waypoint', destination: new PassThrough() });
    let why: string[] = ['xDS not synced'];
    let draining = false;
    const local = { host: '127.0.0.1', port: 0 };
    ops = await startOpsServers(
      { admin: local, stats: local, readiness: local },
      { log, registry, configDump: () => ({ configs: [] }), config: () => CONFIG, notReady: () => why, draining: () => draining },
    );
    const get = async (port: number, path: string, method = 'GET') => {
      const r = await fetch(`http://127.0.0.1:${port}${path}`, { method });
      return { status: r.status, body: await r.text(), type: r.headers.get('content-type') };
    };
    const { admin, stats, readiness } = ops.ports;
    expect(await get(readiness, '/healthz/ready')).toMatchObject({ status: 503, body: 'not ready: xDS not synced\n' });
    expect(await get(admin, '/ready')).toMatchObject({ status: 503, body: 'INITIALIZING\n' });
    why = [];
    expect(await get(readiness, '/healthz/ready')).toMatchObject({ status: 200 });
    expect(await get(admin, '/ready')).toMatchObject({ status: 200, body: 'LIVE\n' });
    draining = true;
    expect(await get(admin, '/ready')).toMatchObject({ status: 503, body: 'DRAINING\n' });

    for (const [port, path] of [[stats, '/metrics'], [stats, '/stats/prometheus'], [admin, '/stats/prometheus']] as const) {
      const r = await get(port, path);
      expect(r.status).toBe(200);
      expect(r.type).toContain('version=0.0.4');
      expect(r.body).toContain('istio_requests_total 1');
    }
    expect(JSON.parse((await get(admin, '/config_dump')).body)).toEqual({ configs: [] });
    expect((await get(admin, '/clusters')).body).toContain('::10.244.1.9:9080::health_flags::healthy');

    expect(await get(admin, '/logging?level=debug')).toMatchObject({ status: 405 });
    expect(await get(admin, '/logging?level=loud', 'POST')).toMatchObject({ status: 400 });
    expect(await get(admin, '/logging?level=debug', 'POST')).toMatchObject({ status: 200, body: expect.stringContaining('waypoint: debug') });
    expect(log.level).toBe('debug');
    expect(await get(admin, '/nope')).toMatchObject({ status: 404 });
  });
});
