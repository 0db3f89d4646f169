// The composition root of a waypoint process: its certificate (from Istio's CA), the Envoy xDS
// client, the data plane on the HBONE listener (inside POD_NETNS when set), telemetry and the ops
// servers, wired from WaypointSettings; readiness once certificate and first xDS sync are in, and
// the drain on shutdown.
import net from 'node:net';
import type { CaClient } from '../../lib/identity/ca-client.ts';
import type { Issuer } from '../../lib/identity/secret-manager.ts';
import { createLogger, type Logger } from '../../lib/log/logger.ts';
import { Registry } from '../../lib/metrics/registry.ts';
import { registerProcessMetrics } from '../../lib/metrics/process.ts';
import { closeFd, connectTcp, listenTcp, openNetns } from '../../lib/netns/index.ts';
import { startOpsServers, type OpsServers } from './admin/servers.ts';
import { waypointIdentity, xdsNode, type HboneListenAddress, type WaypointSettings } from './config.ts';
import { startWaypointCertificate, waypointCaClient, type WaypointCertificate } from './identity/waypoint-certificate.ts';
import { createDataPlane } from './listener/data-plane.ts';
import { createAccessLogger, logAccess } from './telemetry/access-log.ts';
import { registerWaypointMetrics } from './telemetry/metrics.ts';
import type { RequestRecord } from './telemetry/request-record.ts';
import { startWaypointXds } from './xds/index.ts';

export const VERSION = '0.1.0';

export interface WaypointApp {
  settings: WaypointSettings;
  log: Logger;
  registry: Registry;
  certificate: WaypointCertificate;
  xds: ReturnType<typeof startWaypointXds>;
  dataPlane: ReturnType<typeof createDataPlane>;
  ports: { hbone: number; admin: number; stats: number; readiness: number };
  /** Why the waypoint is not ready; empty when it is. */
  notReady(): string[];
  /** Resolves once the certificate and the first xDS sync are in (and `ready` was logged). */
  ready: Promise<void>;
  /** Logs and counts an error nobody handled (main's process handlers call this). */
  reportUncaught(kind: 'exception' | 'rejection', err: unknown): void;
  /** Readiness 503, stop accepting, drain in-flight requests until the deadline, close everything. */
  shutdown(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Where access-log lines go (default: their own logger on stdout). */
  accessLog?: Logger;
  /** Certificates from here instead of the CA client (tests). */
  issuer?: Issuer;
}

/** Binds the HBONE listener, in `netns` when given; `[::]` falls back to 0.0.0.0 where there is no IPv6. */
async function listenHbone(addr: HboneListenAddress, netns: number | undefined, log: Logger): Promise<net.Server> {
  const bind = async (host: string): Promise<net.Server> => {
    // SO_REUSEADDR as Node sets it on its own listeners: a restarted waypoint must bind 15008 while
    // the connections its predecessor closed sit in TIME_WAIT.
    if (netns !== undefined) return listenTcp({ netns, address: host, port: addr.port, reuseAddr: true });
    const server = net.createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port: addr.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server;
  };
  try {
    return await bind(addr.host);
  } catch (err) {
    if (!addr.fallbackHost) throw err;
    log.info({ host: addr.host, fallback: addr.fallbackHost, err: (err as Error).message }, 'HBONE listener: no IPv6, binding IPv4');
    return bind(addr.fallbackHost);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

export async function startWaypoint(s: WaypointSettings, opts: StartOptions = {}): Promise<WaypointApp> {
  const log = opts.log ?? createLogger({ component: 'waypoint', level: s.logLevel });
  const accessLog = opts.accessLog ?? createAccessLogger();
  const registry = new Registry();
  registerProcessMetrics(registry);
  const uncaught = registry.counter('waypoint_uncaught_errors_total', 'Errors no handler caught (each one is a bug)', ['kind']);
  const events = registry.counter('waypoint_data_plane_events_total', 'Refused CONNECTs, HBONE handshakes and malformed requests, by kind', ['kind']);
  const telemetryErrors = registry.counter('waypoint_telemetry_errors_total', 'Request records telemetry failed to render', []);
  const identity = waypointIdentity(s);
  // Opened once: the data plane's sockets are all made in this namespace; a bad path fails here.
  const netns = s.podNetns ? openNetns(s.podNetns) : undefined;
  const cleanups: Array<() => void | Promise<void>> = [];
  if (netns !== undefined) cleanups.push(() => closeFd(netns));
  try {
    const caClient: CaClient | undefined = opts.issuer ? undefined : waypointCaClient(s, registry);
    if (caClient) cleanups.push(() => caClient.close());
    const certificate = startWaypointCertificate({ identity, issuer: opts.issuer ?? caClient!.issuer, log: log.child({ scope: 'identity' }) });
    cleanups.push(() => certificate.close());

    const xds = startWaypointXds({
      address: s.xdsAddress,
      ...(s.xdsRootCaPath !== 'SYSTEM' ? { rootCaPath: s.xdsRootCaPath } : {}),
      ...(s.altXdsHostname ? { altHostname: s.altXdsHostname } : {}),
      tokenPath: s.authTokenPath,
      clusterId: s.clusterId,
      node: xdsNode(s),
      log: log.child({ scope: 'xds' }),
      registry,
      version: VERSION,
    });
    cleanups.push(() => xds.close());

    const metrics = registerWaypointMetrics(registry, xds.peers);
    const onRecord = (r: RequestRecord): void => {
      // A rendering bug costs the record, never the request that produced it.
      try {
        metrics.record(r);
        logAccess(accessLog, r);
      } catch (err) {
        telemetryErrors.inc();
        log.error({ err: (err as Error).message, stack: (err as Error).stack }, 'request record not rendered');
      }
    };
    const connectSocket = (ip: string, port: number): net.Socket => {
      try {
        // The waypoint pod is not captured: no mark needed, just the pod's namespace.
        return netns !== undefined ? connectTcp({ netns, host: ip, port }) : net.connect({ host: ip, port, allowHalfOpen: true });
      } catch (err) {
        // Socket creation failed (EMFILE, bad address): report it the way a failed connect is reported.
        const failed = new net.Socket();
        process.nextTick(() => failed.destroy(err as Error));
        return failed;
      }
    };
    const dataPlane = createDataPlane({
      config: () => xds.current(),
      certificate: () => certificate.current(),
      peers: xds.peers,
      connectSocket,
      onRecord,
      log: log.child({ scope: 'data-plane' }),
      onEvent: (e) => {
        events.inc({ kind: e.kind });
        log.debug({ event: e }, 'data-plane event');
      },
    });
    cleanups.push(() => dataPlane.close());

    const listener = await listenHbone(s.hboneAddr, netns, log);
    cleanups.push(() => void listener.close());
    dataPlane.hbone.attach(listener);
    const hbonePort = (listener.address() as net.AddressInfo).port;

    let synced = false;
    let draining = false;
    void xds.synced().then(() => (synced = true), () => {});
    const notReady = (): string[] => [
      ...(certificate.current() ? [] : ['no workload certificate']),
      ...(synced ? [] : ['xDS not synced']),
      ...(draining ? ['draining'] : []),
    ];
    const dump = (): unknown => withSecrets(xds.configDump(), certificate);
    const ops: OpsServers = await startOpsServers(
      { admin: s.adminAddr, stats: s.statsAddr, readiness: s.readinessAddr },
      { log, registry, configDump: dump, config: () => xds.current(), notReady, draining: () => draining, healthFlags: (c, e) => dataPlane.healthFlags(c, e) },
    );
    cleanups.push(() => ops.close());
    const ports = { hbone: hbonePort, ...ops.ports };
    log.info({ version: VERSION, identity, pid: process.pid, ...ports, netns: s.podNetns }, 'waypoint started');

    const ready = Promise.all([certificate.first(), xds.synced()]).then(() => {
      // The lab's kubelet stand-in marks the pod Ready on this line.
      log.info(ports, 'ready');
    });
    ready.catch(() => {});

    let stopping: Promise<void> | undefined;
    const shutdown = (): Promise<void> =>
      (stopping ??= (async () => {
        draining = true;
        log.info({ deadlineMs: s.drainDurationMs }, 'draining');
        listener.close();
        const drained = await Promise.race([dataPlane.drain().then(() => true), sleep(s.drainDurationMs).then(() => false)]);
        if (!drained) log.info('drain deadline reached; closing the remaining connections');
        for (const c of cleanups.reverse()) await c();
        log.info('waypoint stopped');
      })());

    return {
      settings: s,
      log,
      registry,
      certificate,
      xds,
      dataPlane,
      ports,
      notReady,
      ready,
      reportUncaught(kind, err) {
        uncaught.inc({ kind });
        const e = err instanceof Error ? err : new Error(String(err));
        log.error({ kind, err: e.message, stack: e.stack }, 'uncaught error (a bug): the process keeps serving');
      },
      shutdown,
    };
  } catch (err) {
    for (const c of cleanups.reverse()) await c();
    throw err;
  }
}

/** Envoy's /config_dump carries a SecretsConfigDump: the waypoint's certificate chain (key redacted). */
function withSecrets(dump: unknown, certificate: WaypointCertificate): unknown {
  if (!dump || typeof dump !== 'object' || !Array.isArray((dump as { configs?: unknown }).configs)) return dump;
  const secrets = {
    '@type': 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump',
    dynamic_active_secrets: certificate.dump().map((c) => ({
      name: c.identity,
      state: c.state,
      cert_chain: c.certChain.map(({ serialNumber, validFrom, expirationTime }) => ({ serial_number: serialNumber, valid_from: validFrom, expiration_time: expirationTime })),
      secret: { name: 'default', tls_certificate: { certificate_chain: { inline_string: c.certChain.map((x) => x.pem).join('') }, private_key: { inline_string: '[redacted]' } } },
    })),
  };
  const d = dump as { configs: unknown[] };
  return { ...d, configs: [...d.configs, secrets] };
}
