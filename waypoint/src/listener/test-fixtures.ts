// Test-only: a loopback waypoint with real TLS + HBONE on both sides. A fake destination ztunnel
// (lib/hbone's HboneServer dialling loopback apps), HTTP/1.1, h2c/gRPC-ish and TCP echo apps, a
// config builder, and a source-ztunnel client that opens CONNECT tunnels to the waypoint.
import { createHash } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { dialHbone, openTunnel, type HboneClientConnection } from '../../../lib/hbone/index.ts';
import { createTestPki, dialLoopbackUpstream, startHboneServer, startTcpApp, type HboneFixture, type TcpApp, type TestPki } from '../../../lib/hbone/test-fixtures.ts';
import type { WorkloadCertificate } from '../../../lib/identity/index.ts';
import { createLogger } from '../../../lib/log/logger.ts';
import type { Cluster, Endpoint, FilterChain, PeerWorkload, Route, RouteTable, WaypointConfig } from '../config/types.ts';
import type { RequestRecord } from '../telemetry/request-record.ts';
import { createDataPlane, type DataPlane, type DataPlaneDeps, type DataPlaneEvent } from './data-plane.ts';

export const WAYPOINT_ID = 'spiffe://cluster.local/ns/wp/sa/waypoint';
export const SOURCE_ID = 'spiffe://cluster.local/ns/client-ns/sa/client';
export const DEST_ID = 'spiffe://cluster.local/ns/echo/sa/echo';

export const ECHO_VIP = '10.96.0.10';
export const H2_VIP = '10.96.0.11';
export const TCP_VIP = '10.96.0.12';
export const SNIFF_VIP = '10.96.0.13';
export const PLAIN_VIP = '10.96.0.14';

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Deterministic bytes, so both ends can check a large body without keeping a copy around. */
export function pattern(n: number, seed = 7): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

export interface Apps {
  h1: { port: number; connections: number; server: http.Server; requests: string[] };
  h2: { port: number; sessions: number; server: http2.Http2Server; live: Set<http2.ServerHttp2Session> };
  tcp: TcpApp;
  close(): Promise<void>;
}

function readBody(s: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('end', () => resolve(Buffer.concat(chunks)));
    s.once('error', reject);
  });
}

/** gRPC length-prefixed message. */
export function grpcFrame(payload: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(payload.length, 1);
  return Buffer.concat([h, payload]);
}

export async function startApps(): Promise<Apps> {
  const h1 = { port: 0, connections: 0, server: http.createServer(), requests: [] as string[] };
  h1.server.on('connection', () => h1.connections++);
  h1.server.on('request', async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = req.url ?? '/';
    h1.requests.push(url);
    if (url.startsWith('/slow/')) {
      await new Promise((r) => setTimeout(r, Number(url.split('/')[2])));
      await readBody(req);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('slow done');
      return;
    }
    if (url.startsWith('/big-response/')) {
      const n = Number(url.split('/')[2]);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-sha256': sha256(pattern(n)) });
      const body = pattern(n);
      // Written in slices with backpressure, as an app streaming a file would.
      let off = 0;
      const pump = (): void => {
        while (off < n) {
          const end = Math.min(n, off + 64 * 1024);
          const ok = res.write(body.subarray(off, end));
          off = end;
          if (!ok) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
      return;
    }
    const body = await readBody(req);
    if (url.startsWith('/status/')) {
      res.writeHead(Number(url.split('/')[2]), { 'content-type': 'text/plain' });
      res.end('status');
      return;
    }
    if (url === '/trailers') {
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
      res.write('part1;');
      res.addTrailers({ 'x-checksum': 'abc123' });
      res.end('part2');
      return;
    }
    const json = JSON.stringify({ app: 'h1', method: req.method, path: url, headers: req.headers, trailers: req.trailers, bodyLength: body.length, bodySha: sha256(body), httpVersion: req.httpVersion });
    res.writeHead(200, { 'content-type': 'application/json', 'x-app': 'h1' });
    res.end(json);
  });
  // A WebSocket-shaped upgrade: 101, then the connection echoes bytes in upper case.
  h1.server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: ${req.headers.upgrade}\r\nconnection: Upgrade\r\nx-seen-request-id: ${req.headers['x-request-id'] ?? ''}\r\n\r\n`);
    if (head.length > 0) socket.write(head.toString().toUpperCase());
    socket.on('data', (d: Buffer) => socket.write(d.toString().toUpperCase()));
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((r) => h1.server.listen(0, '127.0.0.1', r));
  h1.port = (h1.server.address() as net.AddressInfo).port;

  const h2 = { port: 0, sessions: 0, server: http2.createServer({ maxSessionMemory: 64 }), live: new Set<http2.ServerHttp2Session>() };
  h2.server.on('session', (s: http2.ServerHttp2Session) => {
    h2.sessions++;
    h2.live.add(s);
    s.once('close', () => h2.live.delete(s));
  });
  h2.server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    stream.on('error', () => undefined);
    const path = headers[':path'] ?? '';
    if (path === '/grpc.test.Echo/Unary') {
      void readBody(stream).then((b) => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': '', 'x-unary-len': String(b.length) }));
        stream.end(b);
      });
      return;
    }
    if (path === '/grpc.test.Echo/Stream') {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      let n = 0;
      stream.on('data', (c: Buffer) => {
        n += c.length;
        stream.write(c);
      });
      stream.once('end', () => {
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'x-stream-bytes': String(n) }));
        stream.end();
      });
      return;
    }
    if (path === '/grpc.test.Echo/Fail') {
      void readBody(stream).then(() => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'not found' }, { endStream: true }));
      return;
    }
    void readBody(stream).then((b) => {
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.end(JSON.stringify({ app: 'h2', path, headers, bodyLength: b.length, bodySha: sha256(b) }));
    });
  });
  await new Promise<void>((r) => h2.server.listen(0, '127.0.0.1', r));
  h2.port = (h2.server.address() as net.AddressInfo).port;

  const tcp = await startTcpApp((s) => {
    s.pipe(s);
  });
  return {
    h1,
    h2,
    tcp,
    async close() {
      h1.server.closeAllConnections();
      await new Promise<void>((r) => h1.server.close(() => r()));
      await new Promise<void>((r) => h2.server.close(() => r()));
      await tcp.close();
    },
  };
}

export function endpoint(port: number, over: Partial<Endpoint> = {}): Endpoint {
  return {
    address: '127.0.0.1',
    port,
    tunnel: 'hbone',
    identity: DEST_ID,
    healthy: true,
    weight: 1,
    workload: { name: 'echo-1', namespace: 'echo', canonicalService: 'echo', canonicalRevision: 'v1', cluster: 'Kubernetes' },
    ...over,
  };
}

export function cluster(name: string, endpoints: Endpoint[], over: Partial<Cluster> = {}): Cluster {
  const host = name.split('|')[3] ?? 'echo.echo.svc.cluster.local';
  return {
    name,
    lbPolicy: 'LEAST_REQUEST',
    connectTimeoutMs: 2000,
    upstreamProtocol: 'http1',
    services: [{ host, name: host.split('.')[0]!, namespace: host.split('.')[1] ?? 'echo' }],
    circuitBreakers: { maxConnections: 2 ** 32 - 1, maxPendingRequests: 2 ** 32 - 1, maxRequests: 2 ** 32 - 1, maxRetries: 2 ** 32 - 1 },
    idleTimeoutMs: 3_600_000,
    maxRequestsPerConnection: 0,
    endpoints,
    ...over,
  };
}

export function route(name: string, prefix: string, clusterName: string, over: Partial<Route> = {}): Route {
  return {
    name,
    match: { path: { kind: 'prefix', value: prefix }, caseSensitive: true, headers: [], queryParams: [] },
    action: { kind: 'route', clusters: [{ name: clusterName, weight: 1 }], timeoutMs: 0, retry: { retryOn: ['reset-before-request'], numRetries: 2, perTryTimeoutMs: 0, retriableStatusCodes: [], backoffBaseMs: 25 } },
    ...over,
  };
}

export function httpChain(name: string, vip: string, port: number, over: Partial<FilterChain> = {}): FilterChain {
  return {
    kind: 'http',
    name,
    match: { destinationIps: [{ address: vip, prefixLen: 32 }], destinationPort: port },
    service: { host: name.split('|')[3]!, name: name.split('|')[3]!.split('.')[0]!, namespace: 'echo' },
    statPrefix: name,
    codec: 'auto',
    routeConfigName: name,
    httpFilters: [{ kind: 'router', name: 'envoy.filters.http.router' }],
    streamIdleTimeoutMs: 0,
    requestHeadersTimeoutMs: 0,
    maxRequestHeadersBytes: 60 * 1024,
    generateRequestId: true,
    serverName: 'istio-envoy',
    ...over,
  } as FilterChain;
}

export const ECHO = 'inbound-vip|80|http|echo.echo.svc.cluster.local';
export const H2 = 'inbound-vip|8080|http|grpc.echo.svc.cluster.local';
export const TCP = 'inbound-vip|9000|tcp|tcp-echo.echo.svc.cluster.local';
export const PLAIN = 'inbound-vip|80|http|legacy.echo.svc.cluster.local';

/** The standard test config: services echo (h1), grpc (h2c upstream), tcp-echo (tcp), legacy (plaintext). */
export function testConfig(apps: Apps, version = 'v1'): WaypointConfig {
  const echoRoutes: RouteTable = {
    name: ECHO,
    virtualHosts: [
      {
        name: 'inbound|http|80',
        domains: ['*'],
        routes: [
          route('nc', '/nc', 'outbound|80||missing.echo.svc.cluster.local'),
          route('uh', '/uh', 'inbound-vip|80|http|sick.echo.svc.cluster.local'),
          route('uf', '/uf', 'inbound-vip|80|http|dead.echo.svc.cluster.local'),
          route('default', '/', ECHO, {
            match: { path: { kind: 'prefix', value: '/' }, caseSensitive: true, headers: [{ name: 'x-no-route', match: { kind: 'present' }, invert: true }], queryParams: [] },
          }),
        ],
      },
    ],
  };
  const h2Routes: RouteTable = {
    name: H2,
    virtualHosts: [{ name: 'inbound|http|8080', domains: ['*'], routes: [route('uh', '/grpc.test.Sick/', 'inbound-vip|80|http|sick.echo.svc.cluster.local'), route('default', '/', H2)] }],
  };
  const plainRoutes: RouteTable = { name: PLAIN, virtualHosts: [{ name: 'inbound|http|80', domains: ['*'], routes: [route('default', '/', PLAIN)] }] };
  const chains: FilterChain[] = [
    httpChain(ECHO, ECHO_VIP, 80),
    httpChain(H2, H2_VIP, 8080),
    httpChain(PLAIN, PLAIN_VIP, 80),
    {
      kind: 'tcp',
      name: TCP,
      match: { destinationIps: [{ address: TCP_VIP, prefixLen: 32 }], destinationPort: 9000 },
      service: { host: 'tcp-echo.echo.svc.cluster.local', name: 'tcp-echo', namespace: 'echo' },
      statPrefix: TCP,
      clusters: [{ name: TCP, weight: 1 }],
      idleTimeoutMs: 3_600_000,
    },
    // An undeclared port: HTTP when it sniffs as HTTP, else TCP.
    httpChain(ECHO, SNIFF_VIP, 7000, { name: 'sniff-http', match: { destinationIps: [{ address: SNIFF_VIP, prefixLen: 32 }], destinationPort: 7000, applicationProtocols: ['http/1.1', 'h2c'] } }),
    {
      kind: 'tcp',
      name: 'sniff-tcp',
      match: { destinationIps: [{ address: SNIFF_VIP, prefixLen: 32 }], destinationPort: 7000 },
      statPrefix: 'sniff-tcp',
      clusters: [{ name: TCP, weight: 1 }],
      idleTimeoutMs: 0,
    },
  ];
  const clusters = [
    cluster(ECHO, [endpoint(apps.h1.port)]),
    cluster(H2, [endpoint(apps.h2.port)], { upstreamProtocol: 'http2' }),
    cluster(TCP, [endpoint(apps.tcp.port)]),
    cluster(PLAIN, [endpoint(apps.h1.port, { tunnel: 'plaintext', identity: undefined })]),
    cluster('inbound-vip|80|http|sick.echo.svc.cluster.local', [endpoint(apps.h1.port, { healthy: false })]),
    cluster('inbound-vip|80|http|dead.echo.svc.cluster.local', [endpoint(1, { tunnel: 'plaintext', identity: undefined })]),
  ];
  return {
    version,
    chains,
    routes: new Map([echoRoutes, h2Routes, plainRoutes].map((t) => [t.name, t])),
    clusters: new Map(clusters.map((c) => [c.name, c])),
  };
}

export const SOURCE_PEER: PeerWorkload = {
  uid: 'Kubernetes//Pod/client-ns/client-1',
  name: 'client-1',
  namespace: 'client-ns',
  serviceAccount: 'client',
  workloadName: 'client',
  canonicalService: 'client',
  canonicalRevision: 'latest',
  cluster: 'Kubernetes',
  identity: SOURCE_ID,
};

export interface Bed {
  pki: TestPki;
  apps: Apps;
  destZtunnel: HboneFixture;
  dataPlane: DataPlane;
  waypointPort: number;
  records: RequestRecord[];
  events: DataPlaneEvent[];
  setConfig(c: WaypointConfig | undefined): void;
  /** An HBONE connection from the "source ztunnel" to the waypoint. */
  source(): Promise<HboneClientConnection>;
  /** One CONNECT tunnel to `authority` through the waypoint. */
  tunnel(authority: string, conn?: HboneClientConnection): Promise<Duplex>;
  close(): Promise<void>;
}

export async function startBed(over: Partial<DataPlaneDeps> = {}): Promise<Bed> {
  const pki = await createTestPki();
  const apps = await startApps();
  const destCert = await pki.cert(DEST_ID);
  const destZtunnel = await startHboneServer({
    getCertificate: () => destCert,
    keepalive: false,
    // As ztunnel's inbound: dial the app with TCP_NODELAY (small HTTP/2 frames must not wait).
    onTunnel: async (req) => {
      const d = await dialLoopbackUpstream(req);
      if (d.kind === 'accept') (d.upstream as net.Socket).setNoDelay(true);
      return d;
    },
  });
  const wpCert: WorkloadCertificate = await pki.cert(WAYPOINT_ID);
  const srcCert = await pki.cert(SOURCE_ID);
  let config: WaypointConfig | undefined = testConfig(apps);
  const records: RequestRecord[] = [];
  const events: DataPlaneEvent[] = [];
  const dataPlane = createDataPlane({
    config: () => config,
    certificate: () => wpCert,
    peers: { findByIp: (ip) => (ip === '127.0.0.1' ? SOURCE_PEER : undefined) },
    connectSocket: (ip, port) => net.connect({ host: ip, port, allowHalfOpen: true }),
    hbonePort: () => destZtunnel.port,
    onRecord: (r) => records.push(r),
    onEvent: (e) => events.push(e),
    log: createLogger({ component: 'waypoint-test', level: process.env['TEST_LOG'] ?? 'silent' }),
    hboneKeepalive: false,
    protocolDetectionTimeoutMs: 300,
    ...over,
  });
  const listener = net.createServer();
  dataPlane.hbone.attach(listener);
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const waypointPort = (listener.address() as net.AddressInfo).port;
  const conns: HboneClientConnection[] = [];
  const source = async (): Promise<HboneClientConnection> => {
    const c = await dialHbone({ connectSocket: () => net.connect({ host: '127.0.0.1', port: waypointPort }), certificate: srcCert, expectedIdentities: [WAYPOINT_ID], keepalive: false });
    conns.push(c);
    return c;
  };
  let shared: HboneClientConnection | undefined;
  return {
    pki,
    apps,
    destZtunnel,
    dataPlane,
    waypointPort,
    records,
    events,
    setConfig: (c) => (config = c),
    source,
    async tunnel(authority, conn) {
      const c = conn ?? (shared && !shared.session.closed ? shared : (shared = await source()));
      return (await openTunnel(c.session, authority)).stream;
    },
    async close() {
      for (const c of conns) c.session.destroy();
      dataPlane.close();
      await new Promise<void>((r) => listener.close(() => r()));
      await destZtunnel.close();
      await apps.close();
    },
  };
}

/** An HTTP/1.1 request over an existing tunnel (keep-alive: the tunnel is reusable afterwards). */
export function h1Request(
  tunnel: Duplex,
  opts: { method?: string; path: string; host?: string; headers?: Record<string, string>; body?: Buffer },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer; trailers: NodeJS.Dict<string> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      method: opts.method ?? 'GET',
      path: opts.path,
      setHost: false,
      headers: { host: opts.host ?? 'echo.echo.svc.cluster.local', connection: 'keep-alive', ...opts.headers },
      createConnection: () => tunnel as unknown as net.Socket,
    });
    req.once('error', reject);
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), trailers: res.trailers }));
      res.once('error', reject);
    });
    req.end(opts.body);
  });
}

/** Collects an HTTP/2 response. */
export function h2Response(stream: http2.ClientHttp2Stream): Promise<{ headers: http2.IncomingHttpHeaders; body: Buffer; trailers: http2.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.once('response', (h) => (headers = h));
    stream.once('trailers', (t) => (trailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => resolve({ headers, body: Buffer.concat(chunks), trailers }));
    stream.once('error', reject);
  });
}

export async function pollUntil(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
