// The composition root with the data plane and the xDS client stubbed: start-up order and log
// lines, readiness, upstream sockets, telemetry wiring, and the bounded drain on shutdown.
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTestPki } from '../../lib/hbone/test-fixtures.ts';
import { issueWorkloadCertificate, type WorkloadCertificate } from '../../lib/identity/index.ts';
import { createLogger } from '../../lib/log/logger.ts';
import type { WaypointApp } from './app.ts';
import { configFromEnv, type WaypointSettings } from './config.ts';
import type { RequestRecord } from './telemetry/request-record.ts';

interface DataPlaneDeps {
  config(): unknown;
  certificate(): WorkloadCertificate | undefined;
  connectSocket(ip: string, port: number): net.Socket;
  onRecord(r: RequestRecord): void;
}

const stub = vi.hoisted(() => {
  const s = {
    xdsOpts: undefined as unknown as Record<string, unknown>,
    syncXds: () => {},
    dataPlaneDeps: undefined as unknown as DataPlaneDeps,
    attached: [] as unknown[],
    drainForever: false,
    drained: 0,
    closed: [] as string[],
  };
  return s;
});

vi.mock('./xds/index.ts', () => ({
  startWaypointXds: (opts: Record<string, unknown>) => {
    stub.xdsOpts = opts;
    const synced = new Promise<void>((resolve) => (stub.syncXds = resolve));
    return {
      current: () => undefined,
      onConfig: () => () => {},
      peers: { findByIp: () => undefined },
      synced: () => synced,
      configDump: () => ({ configs: [{ '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump' }] }),
      close: () => stub.closed.push('xds'),
    };
  },
}));

vi.mock('./listener/data-plane.ts', () => ({
  createDataPlane: (deps: DataPlaneDeps) => {
    stub.dataPlaneDeps = deps;
    return {
      hbone: { attach: (s: unknown) => stub.attached.push(s) },
      drain: () => {
        stub.drained++;
        return stub.drainForever ? new Promise(() => {}) : Promise.resolve();
      },
      close: () => stub.closed.push('data-plane'),
      stats: () => ({}),
    };
  },
}));

const { startWaypoint } = await import('./app.ts');

function settings(extra: Record<string, string> = {}): WaypointSettings {
  const r = configFromEnv({
    POD_NAME: 'waypoint-0',
    POD_NAMESPACE: 'bookinfo',
    INSTANCE_IP: '127.0.0.1',
    SERVICE_ACCOUNT: 'waypoint',
    XDS_ADDRESS: 'http://127.0.0.1:1',
    HBONE_ADDR: '127.0.0.1:0',
    ADMIN_ADDR: '127.0.0.1:0',
    STATS_ADDR: '127.0.0.1:0',
    READINESS_ADDR: '127.0.0.1:0',
    TERMINATION_DRAIN_DURATION: '0.2',
    ...extra,
  });
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.config;
}

function lines(out: PassThrough): Array<Record<string, unknown>> {
  const text = (out.read() as Buffer | null)?.toString() ?? '';
  out.unshift(text);
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function eventually(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const status = async (port: number, path: string): Promise<number> => (await fetch(`http://127.0.0.1:${port}${path}`)).status;

describe('startWaypoint (stubbed data plane and xDS)', () => {
  let app: WaypointApp | undefined;
  afterEach(async () => {
    await app?.shutdown();
    app = undefined;
    stub.attached = [];
    stub.closed = [];
    stub.drained = 0;
    stub.drainForever = false;
  });

  it('is ready once certificate and first xDS sync are in, logging started and ready lines with the ports', async () => {
    const pki = await createTestPki();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const out = new PassThrough();
    const access = new PassThrough();
    app = await startWaypoint(settings(), {
      log: createLogger({ component: 'waypoint', destination: out }),
      accessLog: createLogger({ component: 'waypoint', destination: access }).child({ scope: 'access' }),
      issuer: async (id) => {
        await gate;
        return issueWorkloadCertificate(pki.ca, id);
      },
    });
    const { ports } = app;
    expect(stub.attached).toHaveLength(1);
    expect(stub.xdsOpts).toMatchObject({
      address: 'http://127.0.0.1:1',
      clusterId: 'Kubernetes',
      tokenPath: './var/run/secrets/tokens/istio-token',
      node: { id: 'router~127.0.0.1~waypoint-0.bookinfo~bookinfo.svc.cluster.local', metadata: { GATEWAY_NAME: 'waypoint' } },
    });
    const started = lines(out).find((l) => l.msg === 'waypoint started');
    expect(started).toMatchObject({ hbone: ports.hbone, admin: ports.admin, stats: ports.stats, readiness: ports.readiness });
    expect(await status(ports.readiness, '/healthz/ready')).toBe(503);
    expect(app.notReady()).toEqual(['no workload certificate', 'xDS not synced']);

    release();
    await eventually(() => app!.certificate.current() !== undefined, 'the certificate');
    expect(stub.dataPlaneDeps.certificate()?.identity).toEqual({ trustDomain: 'cluster.local', namespace: 'bookinfo', serviceAccount: 'waypoint' });
    expect(await status(ports.readiness, '/healthz/ready')).toBe(503);
    expect(lines(out).some((l) => l.msg === 'ready')).toBe(false);
    stub.syncXds();
    await app.ready;
    expect(await status(ports.readiness, '/healthz/ready')).toBe(200);
    expect(lines(out).filter((l) => l.msg === 'ready')).toEqual([
      expect.objectContaining({ hbone: ports.hbone, admin: ports.admin, stats: ports.stats, readiness: ports.readiness }),
    ]);
    const dump = (await (await fetch(`http://127.0.0.1:${ports.admin}/config_dump`)).json()) as { configs: Array<Record<string, unknown>> };
    expect(dump.configs.map((c) => c['@type'])).toEqual(['type.googleapis.com/envoy.admin.v3.ListenersConfigDump', 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump']);
    expect(JSON.stringify(dump)).not.toContain('PRIVATE KEY');

    // Records become metrics and access-log lines.
    stub.dataPlaneDeps.onRecord({
      kind: 'http', startTime: new Date(), durationMs: 3, requestProtocol: 'http', protocol: 'HTTP/1.1', method: 'GET', path: '/',
      responseCode: 200, responseFlags: [], responseCodeDetails: 'via_upstream', bytesReceived: 0, bytesSent: 2, requestSize: 50, responseSize: 60,
      downstreamLocalAddress: '10.0.0.1:80', downstreamRemoteAddress: '10.0.0.2:4000', sourcePrincipal: 'spiffe://cluster.local/ns/a/sa/b',
    });
    const metrics = await (await fetch(`http://127.0.0.1:${ports.stats}/stats/prometheus`)).text();
    expect(metrics).toMatch(/^istio_requests_total\{reporter="waypoint",.*response_code="200".*\} 1$/m);
    expect(lines(access)).toEqual([expect.objectContaining({ scope: 'access', response_code: 200, path: '/' })]);
  });

  it('dials upstream sockets with allowHalfOpen, and reports a socket that cannot be made as an error event', async () => {
    const pki = await createTestPki();
    app = await startWaypoint(settings(), { log: createLogger({ component: 'waypoint', destination: new PassThrough() }), issuer: (id) => issueWorkloadCertificate(pki.ca, id) });
    const upstream = net.createServer((s) => s.end('hi'));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const s = stub.dataPlaneDeps.connectSocket('127.0.0.1', (upstream.address() as net.AddressInfo).port);
    const got = await new Promise<string>((resolve) => {
      let b = '';
      s.on('data', (d: Buffer) => (b += d.toString())).on('end', () => resolve(b));
    });
    expect(got).toBe('hi');
    expect(s.allowHalfOpen).toBe(true);
    s.destroy();
    upstream.close();
    const bad = stub.dataPlaneDeps.connectSocket('127.0.0.1', 1);
    await expect(new Promise((_, reject) => bad.on('error', reject))).rejects.toThrow();
  });

  it('drains on shutdown: readiness 503, listener closed, drain bounded by the deadline, then everything closed', async () => {
    const pki = await createTestPki();
    const out = new PassThrough();
    app = await startWaypoint(settings(), { log: createLogger({ component: 'waypoint', destination: out }), issuer: (id) => issueWorkloadCertificate(pki.ca, id) });
    stub.syncXds();
    await app.ready;
    stub.drainForever = true;
    const { ports } = app;
    const t0 = Date.now();
    const done = app.shutdown();
    expect(app.notReady()).toContain('draining');
    expect(await status(ports.readiness, '/healthz/ready')).toBe(503);
    await done;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect(stub.drained).toBe(1);
    expect(stub.closed).toEqual(['data-plane', 'xds']);
    await expect(fetch(`http://127.0.0.1:${ports.readiness}/healthz/ready`)).rejects.toThrow();
    await expect(new Promise((resolve, reject) => net.connect(ports.hbone, '127.0.0.1').on('connect', resolve).on('error', reject))).rejects.toThrow();
    expect(lines(out).map((l) => l.msg)).toEqual(expect.arrayContaining(['draining', 'drain deadline reached; closing the remaining connections', 'waypoint stopped']));
    app = undefined;
  });
});
