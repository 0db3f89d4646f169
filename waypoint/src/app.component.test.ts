// The whole waypoint in-process, nothing stubbed: a local CA (grpc-js IstioCertificateService over a
// lib/identity CA), a fake control plane (lib/xds DeltaXdsServer serving a hand-made Envoy config
// and one workload), a fake destination (HBONE server on <loopback>:15008 in front of an HTTP echo
// app). One HTTP/1.1 request through the waypoint's 15008 from an HBONE client: 200, one access-log
// line, istio_requests_total{reporter="waypoint",response_code="200"} 1.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialHbone, HboneServer, openTunnel } from '../../lib/hbone/index.ts';
import { dialLoopbackUpstream } from '../../lib/hbone/test-fixtures.ts';
import { CertificateAuthority, createSelfSignedRoot, issueWorkloadCertificate, type WorkloadCertificate } from '../../lib/identity/index.ts';
import { createLogger } from '../../lib/log/logger.ts';
import {
  ADDRESS_TYPE_URL,
  addressCodec,
  CLUSTER_TYPE_URL,
  clusterCodec,
  clusterLoadAssignmentCodec,
  ENDPOINT_TYPE_URL,
  httpConnectionManagerCodec,
  istioCertificateServiceDefinition,
  LISTENER_TYPE_URL,
  listenerCodec,
  packAny,
  ROUTE_TYPE_URL,
  routeConfigurationCodec,
  routerCodec,
  type Any,
  type IstioCertificateRequest,
  type IstioCertificateResponse,
} from '../../lib/proto/index.ts';
import { DeltaXdsServer, type ResourceStore, type XdsSnapshot } from '../../lib/xds/index.ts';
import { startWaypoint, type WaypointApp } from './app.ts';
import { configFromEnv } from './config.ts';

const TD = 'cluster.local';
const WAYPOINT_ID = `spiffe://${TD}/ns/bookinfo/sa/waypoint`;
const SLEEP_ID = `spiffe://${TD}/ns/default/sa/sleep`;
const REVIEWS_ID = `spiffe://${TD}/ns/bookinfo/sa/bookinfo-reviews`;
const HOST = 'reviews.bookinfo.svc.cluster.local';
const CLUSTER = `inbound-vip|9080|http|${HOST}`;
const VIP = '10.96.0.20';

/** A loopback address of its own, so the destination's HBONE server can take port 15008. */
const DEST_IP = `127.${10 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;

function envoyConfig(appPort: number): Map<string, Map<string, Any>> {
  const listener = packAny(listenerCodec, {
    name: 'main_internal',
    listenerSpecifier: { $case: 'internalListener', internalListener: {} },
    filterChains: [
      {
        name: CLUSTER,
        filterChainMatch: { prefixRanges: [{ addressPrefix: VIP, prefixLen: 32 }], destinationPort: 9080 },
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            configType: {
              $case: 'typedConfig',
              typedConfig: packAny(httpConnectionManagerCodec, {
                statPrefix: CLUSTER,
                routeSpecifier: { $case: 'rds', rds: { routeConfigName: CLUSTER, configSource: { configSourceSpecifier: { $case: 'ads', ads: {} } } } },
                httpFilters: [{ name: 'envoy.filters.http.router', configType: { $case: 'typedConfig', typedConfig: packAny(routerCodec, {}) } }],
                streamIdleTimeout: { seconds: 0, nanos: 0 },
                serverName: 'istio-envoy',
              }),
            },
          },
        ],
      },
    ],
  });
  const route = packAny(routeConfigurationCodec, {
    name: CLUSTER,
    virtualHosts: [
      {
        name: `${HOST}:9080`,
        domains: ['*'],
        routes: [
          {
            name: 'default',
            match: { pathSpecifier: { $case: 'prefix', prefix: '/' } },
            action: { $case: 'route', route: { clusterSpecifier: { $case: 'cluster', cluster: CLUSTER }, timeout: { seconds: 0, nanos: 0 } } },
          },
        ],
      },
    ],
  });
  const cluster = packAny(clusterCodec, {
    name: CLUSTER,
    clusterDiscoveryType: { $case: 'type', type: 3 },
    edsClusterConfig: { edsConfig: { configSourceSpecifier: { $case: 'ads', ads: {} } }, serviceName: CLUSTER },
    lbPolicy: 1,
    metadata: { filterMetadata: { istio: { services: [{ host: HOST, name: 'reviews', namespace: 'bookinfo' }] } }, typedFilterMetadata: {} },
  });
  const endpoints = packAny(clusterLoadAssignmentCodec, {
    clusterName: CLUSTER,
    endpoints: [
      {
        lbEndpoints: [
          {
            hostIdentifier: {
              $case: 'endpoint',
              endpoint: { address: { address: { $case: 'envoyInternalAddress', envoyInternalAddress: { addressNameSpecifier: { $case: 'serverListenerName', serverListenerName: 'connect_originate' }, endpointId: `${DEST_IP}:${appPort}` } } } },
            },
            metadata: { filterMetadata: { istio: { identity: REVIEWS_ID, workload: 'reviews-v1;bookinfo;reviews;v1;Kubernetes' } }, typedFilterMetadata: {} },
          },
        ],
      },
    ],
  });
  const sleep = packAny(addressCodec, {
    type: {
      $case: 'workload',
      workload: {
        uid: 'Kubernetes//Pod/default/sleep-1',
        name: 'sleep-1',
        namespace: 'default',
        serviceAccount: 'sleep',
        workloadName: 'sleep',
        canonicalName: 'sleep',
        canonicalRevision: 'v1',
        clusterId: 'Kubernetes',
        trustDomain: TD,
        addresses: [new Uint8Array([127, 0, 0, 1])],
      },
    },
  });
  return new Map([
    [LISTENER_TYPE_URL, new Map([['main_internal', listener]])],
    [ROUTE_TYPE_URL, new Map([[CLUSTER, route]])],
    [CLUSTER_TYPE_URL, new Map([[CLUSTER, cluster]])],
    [ENDPOINT_TYPE_URL, new Map([[CLUSTER, endpoints]])],
    [ADDRESS_TYPE_URL, new Map([['Kubernetes//Pod/default/sleep-1', sleep]])],
  ]);
}

/** The control plane in miniature: fixed resources, every type served. */
function staticStore(resources: Map<string, Map<string, Any>>): ResourceStore {
  return {
    typeUrls: new Set(resources.keys()),
    snapshot: (typeUrl): XdsSnapshot => new Map([...(resources.get(typeUrl) ?? new Map<string, Any>())].map(([name, resource]) => [name, { version: '1', resource }])),
    onChange: () => () => {},
  };
}

async function bindGrpc(server: Server): Promise<number> {
  return new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
}

function readLines(out: PassThrough): Array<Record<string, unknown>> {
  const text = (out.read() as Buffer | null)?.toString() ?? '';
  if (text) out.unshift(text);
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function eventually(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('waypoint app, end to end in-process', () => {
  const cleanups: Array<() => unknown> = [];
  let app: WaypointApp;
  let ca: CertificateAuthority;
  const caCalls: Array<{ request: IstioCertificateRequest; metadata: Record<string, string> }> = [];
  const out = new PassThrough();
  const access = new PassThrough();
  let slowArrived = false;

  beforeAll(async () => {
    ca = await CertificateAuthority.create({ signer: await createSelfSignedRoot({ trustDomain: TD }), trustDomain: TD });
    const dir = mkdtempSync(join(tmpdir(), 'waypoint-app-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'istio-token'), 'waypoint-token\n');

    // The destination: an echo app behind an HBONE server on DEST_IP:15008, as a ztunnel's inbound.
    const echo = http.createServer((req, res) => {
      req.resume();
      // `/slow` answers after 300 ms: an in-flight request when the waypoint is told to stop.
      const reply = () => res.writeHead(200, { 'content-type': 'text/plain', 'x-echo-path': req.url ?? '' }).end(`hello from reviews ${req.url}\n`);
      if (req.url === '/slow') slowArrived = true;
      req.on('end', () => (req.url === '/slow' ? setTimeout(reply, 300) : reply()));
    });
    await new Promise<void>((r) => echo.listen(0, DEST_IP, r));
    cleanups.push(() => echo.close());
    const appPort = (echo.address() as net.AddressInfo).port;
    const reviewsCert = await issueWorkloadCertificate(ca, REVIEWS_ID);
    const dest = new HboneServer({ getCertificate: () => reviewsCert, onTunnel: dialLoopbackUpstream, keepalive: false });
    const destListener = net.createServer();
    dest.attach(destListener);
    await new Promise<void>((resolve, reject) => destListener.once('error', reject).listen(15008, DEST_IP, resolve));
    cleanups.push(() => {
      dest.destroy();
      destListener.close();
    });

    // The control plane: Envoy config and workloads over delta ADS, the CA on the same gRPC server.
    const xds = new DeltaXdsServer({ store: staticStore(envoyConfig(appPort)), debounceMs: 1, maxDelayMs: 10 });
    const grpc = new Server();
    xds.addTo(grpc);
    grpc.addService(istioCertificateServiceDefinition, {
      CreateCertificate: (call: ServerUnaryCall<IstioCertificateRequest, IstioCertificateResponse>, cb: sendUnaryData<IstioCertificateResponse>) => {
        const metadata: Record<string, string> = {};
        for (const [k, v] of Object.entries(call.metadata.getMap())) metadata[k] = String(v);
        caCalls.push({ request: call.request, metadata });
        // Istio's CA signs for the caller's token identity; the test's caller is the waypoint.
        ca.sign({ csrPem: call.request.csr, identity: WAYPOINT_ID, ttlSeconds: call.request.validityDuration }).then(
          (certChain) => cb(null, { certChain }),
          (err: Error) => cb({ code: 13, details: err.message }, null),
        );
      },
    });
    const cpPort = await bindGrpc(grpc);
    cleanups.push(() => {
      xds.close();
      grpc.forceShutdown();
    });

    const env = configFromEnv({
      XDS_ADDRESS: `http://127.0.0.1:${cpPort}`,
      AUTH_TOKEN: join(dir, 'istio-token'),
      POD_NAME: 'waypoint-0',
      POD_NAMESPACE: 'bookinfo',
      INSTANCE_IP: '127.0.0.1',
      SERVICE_ACCOUNT: 'waypoint',
      GATEWAY_NAME: 'waypoint',
      HBONE_ADDR: '127.0.0.1:0',
      ADMIN_ADDR: '127.0.0.1:0',
      STATS_ADDR: '127.0.0.1:0',
      READINESS_ADDR: '127.0.0.1:0',
      TERMINATION_DRAIN_DURATION: '1s',
    });
    if (!env.ok) throw new Error(env.errors.join('; '));
    app = await startWaypoint(env.config, {
      log: createLogger({ component: 'waypoint', destination: out }),
      accessLog: createLogger({ component: 'waypoint', destination: access }).child({ scope: 'access' }),
    });
    cleanups.push(() => app.shutdown());
    await app.ready;
  }, 30_000);

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('got its certificate without impersonation, announced ready with its ports', async () => {
    expect(caCalls).toHaveLength(1);
    expect(caCalls[0]!.metadata).toMatchObject({ authorization: 'Bearer waypoint-token', clusterid: 'Kubernetes' });
    expect(caCalls[0]!.request.metadata).toBeUndefined();
    const ready = readLines(out).filter((l) => l.msg === 'ready');
    expect(ready).toEqual([expect.objectContaining(app.ports)]);
    expect((await fetch(`http://127.0.0.1:${app.ports.readiness}/healthz/ready`)).status).toBe(200);
    const clusters = await (await fetch(`http://127.0.0.1:${app.ports.admin}/clusters`)).text();
    expect(clusters).toContain(`${CLUSTER}::${DEST_IP}:`);
  });

  it('routes one HTTP request from an HBONE client to the destination and reports it', async () => {
    const sleepCert: WorkloadCertificate = await issueWorkloadCertificate(ca, SLEEP_ID);
    const conn = await dialHbone({
      connectSocket: () => net.connect({ host: '127.0.0.1', port: app.ports.hbone }),
      certificate: sleepCert,
      expectedIdentities: [WAYPOINT_ID],
      keepalive: false,
    });
    try {
      const { stream } = await openTunnel(conn.session, `${VIP}:9080`);
      stream.write(`GET /reviews/1 HTTP/1.1\r\nhost: reviews.bookinfo:9080\r\nuser-agent: test\r\nconnection: close\r\n\r\n`);
      let response = '';
      stream.on('data', (b: Buffer) => (response += b.toString()));
      await eventually(() => /\r\n\r\n[\s\S]*hello from reviews/.test(response), 'the response').catch((err: Error) => {
        throw new Error(`${err.message}; got ${JSON.stringify(response)}; waypoint log: ${JSON.stringify(readLines(out).slice(-30).filter((l) => l.scope !== 'xds'))}`);
      });
      expect(response).toMatch(/^HTTP\/1\.1 200 /);
      expect(response).toContain('hello from reviews /reviews/1');
      stream.destroy();
    } finally {
      conn.session.destroy();
      conn.socket.destroy();
    }

    await eventually(() => readLines(access).length > 0, 'the access-log line');
    const lines = readLines(access);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      scope: 'access',
      method: 'GET',
      path: '/reviews/1',
      protocol: 'HTTP/1.1',
      response_code: 200,
      response_flags: '-',
      upstream_cluster: CLUSTER,
      downstream_local_address: `${VIP}:9080`,
      source_principal: SLEEP_ID,
    });
    const metrics = await (await fetch(`http://127.0.0.1:${app.ports.stats}/stats/prometheus`)).text();
    const series = metrics.split('\n').filter((l) => l.startsWith('istio_requests_total{'));
    expect(series).toHaveLength(1);
    expect(series[0]).toMatch(/reporter="waypoint"/);
    expect(series[0]).toMatch(/response_code="200"/);
    expect(series[0]).toMatch(/source_workload="sleep"/);
    expect(series[0]).toMatch(/destination_service="reviews\.bookinfo\.svc\.cluster\.local"/);
    expect(series[0]).toMatch(/destination_workload="reviews-v1"/);
    expect(series[0]).toMatch(/connection_security_policy="mutual_tls"/);
    expect(series[0]).toMatch(/ 1$/);
  });

  it('drains on shutdown: readiness 503, the in-flight request finishes with connection: close, then it stops', async () => {
    const sleepCert = await issueWorkloadCertificate(ca, SLEEP_ID);
    const conn = await dialHbone({ connectSocket: () => net.connect({ host: '127.0.0.1', port: app.ports.hbone }), certificate: sleepCert, expectedIdentities: [WAYPOINT_ID], keepalive: false });
    try {
      const { stream } = await openTunnel(conn.session, `${VIP}:9080`);
      let response = '';
      stream.on('data', (b: Buffer) => (response += b.toString()));
      stream.write(`GET /slow HTTP/1.1\r\nhost: reviews.bookinfo:9080\r\n\r\n`);
      await eventually(() => slowArrived, 'the request at the destination');
      const stopped = app.shutdown();
      expect((await fetch(`http://127.0.0.1:${app.ports.readiness}/healthz/ready`)).status).toBe(503);
      await eventually(() => response.includes('hello from reviews /slow'), 'the in-flight response');
      expect(response).toMatch(/^HTTP\/1\.1 200 /);
      expect(response.toLowerCase()).toContain('connection: close');
      await stopped;
      expect(readLines(out).map((l) => l.msg)).toContain('waypoint stopped');
    } finally {
      conn.session.destroy();
      conn.socket.destroy();
    }
  });
});
