// The waypoint's xDS connection: one delta ADS stream to the controller with a wildcard subscription
// per type (Envoy's CDS, EDS, LDS, RDS and Istio's istio.workload.Address for peer metadata), ACK or
// NACK of each response exactly as ztunnel does (lib/xds/delta-client.ts), and, once every type had
// its first response, a new WaypointConfig compiled from the accepted resources after each update.
import { RootBundleFile } from '../../../lib/identity/root-bundle-file.ts';
import type { Logger } from '../../../lib/log/logger.ts';
import type { Registry } from '../../../lib/metrics/registry.ts';
import { ADDRESS_TYPE_URL, type JsonValue, type Node } from '../../../lib/proto/index.ts';
import { DeltaXdsClient, parseXdsAddress, tokenFileReader, type XdsBackoffOptions, type XdsHandler, type XdsRejection } from '../../../lib/xds/index.ts';
import type { PeerLookup, WaypointConfig } from '../config/types.ts';
import { assembleConfig } from './compile.ts';
import { configDump } from './config-dump.ts';
import { decodePeer, PeerTable } from './peers.ts';
import { envoyHandler, resourceTables } from './resources.ts';

export interface WaypointXdsOptions {
  /** XDS_ADDRESS: https://host:port or http://host:port. */
  address: string;
  /** XDS_ROOT_CA (PEM file) for https; the system roots when absent. */
  rootCaPath?: string;
  /** ALT_XDS_HOSTNAME: the TLS server name to verify. */
  altHostname?: string;
  /** AUTH_TOKEN file (bearer token metadata), re-read per stream. */
  tokenPath?: string;
  /** CLUSTER_ID → `clusterid` metadata. */
  clusterId: string;
  node: { id: string; metadata: Record<string, JsonValue> };
  log: Logger;
  registry: Registry;
  /** Reconnect backoff (tests shorten it). */
  backoff?: XdsBackoffOptions;
  /** Client build version for the node's user agent. */
  version?: string;
}

export interface WaypointXds {
  /** undefined until every type had its first response. */
  current(): WaypointConfig | undefined;
  onConfig(listener: (c: WaypointConfig) => void): () => void;
  readonly peers: PeerLookup;
  /** Resolves once every type had its first response applied. */
  synced(): Promise<void>;
  /** Envoy-shaped /config_dump. */
  configDump(): unknown;
  close(): void;
}

function addressHandler(peers: PeerTable, hooks: { applied(typeUrl: string): void }): XdsHandler {
  return {
    typeUrl: ADDRESS_TYPE_URL,
    apply(update) {
      const rejected: XdsRejection[] = [];
      for (const r of update.resources) {
        const d = decodePeer(r.resource);
        if (!d.ok) rejected.push({ name: r.name, reason: d.error });
        else if (d.kind === 'workload') peers.upsert(r.name, d.peer, d.ips);
      }
      for (const name of update.removed) peers.remove(name);
      hooks.applied(ADDRESS_TYPE_URL);
      return { rejected };
    },
  };
}

function toNode(n: WaypointXdsOptions['node'], version: string): Node {
  return {
    id: n.id,
    cluster: '',
    metadata: n.metadata,
    userAgentName: 'ambient-mesh-waypoint',
    userAgentVersionType: { $case: 'userAgentVersion', userAgentVersion: version },
    dynamicParameters: {},
    extensions: [],
    clientFeatures: [],
    listeningAddresses: [],
  };
}

/** Builds and starts the client; a missing root CA file fails here, at start-up. */
export function startWaypointXds(opts: WaypointXdsOptions): WaypointXds {
  const log = opts.log.child({ scope: 'xds' });
  const tables = resourceTables();
  const peers = new PeerTable();
  const listeners = new Set<(c: WaypointConfig) => void>();
  const configs = opts.registry.counter('waypoint_xds_configs_total', 'WaypointConfigs compiled from accepted xDS resources', []);
  let current: WaypointConfig | undefined;
  let generation = 0;
  let client: DeltaXdsClient | undefined;

  const publish = () => {
    const config = assembleConfig(String(++generation), {
      listeners: tables.listener.compiled(),
      clusters: tables.cluster.compiled(),
      loadAssignments: tables.endpoint.compiled(),
      routes: tables.route.compiled(),
    });
    current = config;
    configs.inc();
    log.debug({ version: config.version, chains: config.chains.length, clusters: config.clusters.size, routes: config.routes.size }, 'waypoint config updated');
    for (const l of listeners) {
      try {
        l(config);
      } catch (err) {
        log.error({ err: (err as Error).message }, 'waypoint config listener failed');
      }
    }
  };
  const hooks = {
    // Addresses feed the peer table only; the config is about the Envoy types.
    applied: (typeUrl: string) => {
      if (typeUrl !== ADDRESS_TYPE_URL && client?.allSynced()) publish();
    },
    warn: (typeUrl: string, name: string, warnings: string[]) => log.warn({ typeUrl, resource: name, warnings }, 'xDS resource accepted with parts ignored'),
  };
  const handlers: XdsHandler[] = [
    envoyHandler(tables.cluster, hooks),
    envoyHandler(tables.endpoint, hooks),
    envoyHandler(tables.listener, hooks),
    envoyHandler(tables.route, hooks),
    addressHandler(peers, hooks),
  ];
  const endpoint = parseXdsAddress(opts.address);
  const useRoots = endpoint.ok && endpoint.value.tls && opts.rootCaPath !== undefined && opts.rootCaPath !== 'SYSTEM';
  client = new DeltaXdsClient({
    address: opts.address,
    node: toNode(opts.node, opts.version ?? ''),
    handlers,
    ...(useRoots ? { rootCa: new RootBundleFile(opts.rootCaPath!) } : {}),
    ...(opts.altHostname ? { serverName: opts.altHostname } : {}),
    ...(opts.tokenPath ? { token: tokenFileReader(opts.tokenPath) } : {}),
    clusterId: opts.clusterId,
    registry: opts.registry,
    log: opts.log,
    ...(opts.backoff ? { backoff: opts.backoff } : {}),
  });
  const synced = new Promise<void>((resolve) => {
    client!.once('allSynced', () => {
      // The last type's handler ran before the client counted it synced: compile now.
      publish();
      resolve();
    });
  });
  client.start();

  return {
    current: () => current,
    onConfig(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    peers,
    synced: () => synced,
    configDump: () => configDump(tables),
    close: () => {
      void client?.close();
    },
  };
}
