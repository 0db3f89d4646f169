// The waypoint's data path, assembled for the app: HBONE listener → filter chains → HTTP
// connection manager (filters, router) or tcp proxy → cluster manager → pools → HBONE/TCP
// upstreams. The app owns sockets, certificates, config and telemetry rendering; this owns the rest.
import type net from 'node:net';
import { HbonePool, type HboneServer } from '../../../lib/hbone/index.ts';
import { spiffeIdString, type WorkloadCertificate } from '../../../lib/identity/index.ts';
import type { Logger } from '../../../lib/log/logger.ts';
import type { Endpoint, PeerLookup, WaypointConfig } from '../config/types.ts';
import { HttpConnectionManager } from '../http/connection-manager.ts';
import { TcpProxy } from '../network/tcp-proxy.ts';
import { RouterFilter } from '../router/router-filter.ts';
import type { Random } from '../router/weighted-pick.ts';
import type { RequestRecordSink } from '../telemetry/request-record.ts';
import { ClusterManager } from '../upstream/cluster-manager.ts';
import { createUpstreamConnector } from '../upstream/upstream-connector.ts';
import type { DataPlaneEvent } from './events.ts';
import { HboneListener } from './hbone-listener.ts';

export type { DataPlaneEvent } from './events.ts';

export interface DataPlaneDeps {
  /** The current compiled config (undefined until the first accepted update: CONNECTs get 503). */
  config(): WaypointConfig | undefined;
  /** The waypoint's own certificate (changes on refresh; new connections use the new one). */
  certificate(): WorkloadCertificate | undefined;
  readonly peers: PeerLookup;
  /** Creates and starts connecting an upstream TCP socket (the app makes it in the pod netns). */
  connectSocket(ip: string, port: number): net.Socket;
  readonly onRecord: RequestRecordSink;
  readonly log: Logger;
  onEvent?(e: DataPlaneEvent): void;
  /** The HBONE port of an endpoint's ztunnel; 15008 by default (tests point it elsewhere). */
  hbonePort?(endpoint: Endpoint): number;
  /** Bounded wait for protocol sniffing (default 5 s, then tcp). */
  readonly protocolDetectionTimeoutMs?: number;
  /** HBONE keepalive on upstream and downstream connections (default on); tests turn it off. */
  readonly hboneKeepalive?: boolean;
  /** Random source for weighted clusters, LB and retry jitter (tests inject one). */
  readonly random?: Random;
  /** Request id generator (default UUID v4). */
  newRequestId?(): string;
}

export interface DataPlaneStats {
  readonly hboneConnections: number;
  readonly tunnels: number;
  readonly rejectedConnects: number;
  readonly httpConnections: number;
  readonly activeRequests: number;
  readonly tcpConnections: number;
  readonly upstreamConnections: number;
  readonly hbonePool: { keys: number; connections: number; streams: number };
}

export interface DataPlane {
  /** `hbone.attach(server)` serves every connection a 15008 listener accepts. */
  readonly hbone: HboneServer;
  /** Stop accepting, let in-flight requests finish (h1 `connection: close`, h2 GOAWAY); the app enforces the deadline. */
  drain(): Promise<void>;
  /** Tears everything down at once. */
  close(): void;
  stats(): DataPlaneStats;
  /** Envoy's /clusters health_flags of an endpoint (outlier ejection included). */
  healthFlags(cluster: string, endpoint: Endpoint): string;
}

export function createDataPlane(deps: DataPlaneDeps): DataPlane {
  const log = deps.log;
  const ownIdentity = (): string | undefined => {
    const c = deps.certificate();
    return c ? spiffeIdString(c.identity) : undefined;
  };
  const pool = new HbonePool({
    getCertificate: () => {
      const c = deps.certificate();
      if (!c) throw new Error('the waypoint has no certificate yet');
      return c;
    },
    ...(deps.hboneKeepalive === false ? { keepalive: false as const } : {}),
    log: log.child({ scope: 'hbone-pool' }),
  });
  const connector = createUpstreamConnector({ pool, ownIdentity, connectSocket: deps.connectSocket, ...(deps.hbonePort ? { hbonePort: deps.hbonePort } : {}) });
  const clusters = new ClusterManager(connector, deps.random, deps.onEvent ? { onEvent: deps.onEvent } : {});
  // Cluster runtimes of removed clusters are dropped when a new snapshot is seen.
  let lastConfig: WaypointConfig | undefined;
  const config = (): WaypointConfig | undefined => {
    const c = deps.config();
    if (c && c !== lastConfig) {
      lastConfig = c;
      clusters.retain(new Set(c.clusters.keys()));
    }
    return c;
  };
  const router = new RouterFilter({ clusters, config, log: log.child({ scope: 'router' }), ...(deps.random ? { random: deps.random } : {}) });
  const hcm = new HttpConnectionManager({
    router,
    config,
    ...(deps.random ? { random: deps.random } : {}),
    upgrade: { clusters, config, ...(deps.random ? { random: deps.random } : {}) },
    onRecord: deps.onRecord,
    log: log.child({ scope: 'hcm' }),
    ...(deps.onEvent ? { onEvent: deps.onEvent } : {}),
    ...(deps.newRequestId ? { newRequestId: deps.newRequestId } : {}),
  });
  const tcp = new TcpProxy({ clusters, config, onRecord: deps.onRecord, log: log.child({ scope: 'tcp-proxy' }), ...(deps.random ? { random: deps.random } : {}) });
  const listener = new HboneListener({
    config,
    certificate: deps.certificate,
    peers: deps.peers,
    hcm,
    tcp,
    log: log.child({ scope: 'listener' }),
    ...(deps.onEvent ? { onEvent: deps.onEvent } : {}),
    ...(deps.protocolDetectionTimeoutMs !== undefined ? { protocolDetectionTimeoutMs: deps.protocolDetectionTimeoutMs } : {}),
  });
  return {
    hbone: listener.server,
    async drain() {
      // HTTP first (GOAWAY / connection: close inside the tunnels), then the HBONE connections.
      const inner = Promise.all([hcm.drain(), tcp.drain()]);
      await Promise.all([listener.stopAccepting(), inner]);
      clusters.close();
      await pool.close();
    },
    close() {
      hcm.close();
      tcp.close();
      listener.server.destroy();
      clusters.close();
      void pool.close();
    },
    healthFlags(cluster, endpoint) {
      return clusters.find(cluster)?.healthFlags(endpoint) ?? (endpoint.healthy ? 'healthy' : '/failed_eds_health');
    },
    stats() {
      const l = listener.stats();
      const cm = clusters.stats();
      return {
        hboneConnections: l.hboneConnections,
        tunnels: l.tunnels,
        rejectedConnects: l.rejectedConnects,
        httpConnections: hcm.connectionCount,
        activeRequests: hcm.activeStreams,
        tcpConnections: tcp.connectionCount,
        upstreamConnections: cm.upstreamConnections,
        hbonePool: pool.stats(),
      };
    },
  };
}
