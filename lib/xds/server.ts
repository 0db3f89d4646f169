// The delta ADS server (envoy.service.discovery.v3 DeltaAggregatedResources), the controller's side
// of workload xDS, behaving as istiod does towards ztunnel: per stream and type it tracks what the
// proxy holds, answers a type's first request with what the proxy lacks (skipping versions it listed
// in initial_resource_versions, removing names the store no longer has), then pushes only changes.
// Store changes are debounced and coalesced; each stream has at most one response per type awaiting
// its ACK, and changes arriving meanwhile go out, coalesced, once it is answered. A NACK is logged
// and counted and the stream stays up; refused versions are not offered again, only newer ones.
// Resources come from a ResourceStore the caller implements (per-proxy filtering is its business);
// the caller also owns the grpc-js Server, so other services (the CA) can share it. Subscription and
// diff logic is pure and lives in ./server-watch.ts.
import { randomBytes } from 'node:crypto';
import { status as GrpcStatus, type Metadata, type Server, type ServerDuplexStream } from '@grpc/grpc-js';
import { createLogger, type Logger } from '../log/logger.ts';
import { Registry, type Counter, type Gauge, type Histogram } from '../metrics/registry.ts';
import { aggregatedDiscoveryServiceDefinition, structToJson, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse, type JsonValue, type Node } from '../proto/index.ts';
import { ChangeDebouncer, type DebounceOptions } from './server-debounce.ts';
import {
  answer,
  applyBookkeeping,
  changeSubscription,
  checkRequest,
  isEmptyPlan,
  openWatch,
  planResponse,
  recordSent,
  responseDue,
  type Watch,
  type XdsSnapshot,
} from './server-watch.ts';

/** The proxy at the other end of a stream, as the store sees it when asked for a snapshot. */
export interface XdsProxy<C = unknown> {
  /** `<node id>-<n>`: this stream, as the debug dump names it. */
  readonly connectionId: string;
  /** The node of the stream's first request. */
  readonly node: Node;
  /** node.metadata as plain JSON (ztunnel: NAME, NAMESPACE, INSTANCE_IPS, NODE_NAME, …). */
  readonly metadata: { [key: string]: JsonValue };
  /** What authenticate() returned; undefined when the server has no authenticate hook. */
  readonly caller: C | undefined;
  /** The gRPC call metadata (ztunnel sends `authorization` and `clusterid`). */
  readonly callMetadata: Metadata;
  /** The transport peer, `host:port`. */
  readonly peer: string;
}

/** Where resources come from: the controller's state, filtered per proxy. */
export interface ResourceStore<C = unknown> {
  /** The type URLs served; a request for any other ends its stream with INVALID_ARGUMENT. */
  readonly typeUrls: ReadonlySet<string>;
  /**
   * Everything of `typeUrl` that `proxy` may see, by resource name. Called for each stream a change
   * may concern, at every push: keep it cheap (cache per type, filter per proxy). Versions must change
   * whenever a resource does: equal versions are never re-sent. A throw ends that stream (INTERNAL).
   */
  snapshot(typeUrl: string, proxy: XdsProxy<C>): XdsSnapshot;
  /** Registers the change feed: call `listener` with the type URLs whose resources changed. Returns the unsubscribe. */
  onChange(listener: (typeUrls: ReadonlySet<string>) => void): () => void;
  /** system_version_info of responses of `typeUrl`; by default the server's count of change batches. */
  version?(typeUrl: string): string;
}

export type XdsAuthResult<C> = { ok: true; caller: C } | { ok: false; message: string };

/** What authenticate() sees of a new stream, before any request. */
export interface XdsAuthContext {
  metadata: Metadata;
  peer: string;
}

export interface DeltaXdsServerOptions<C = unknown> extends DebounceOptions {
  store: ResourceStore<C>;
  /**
   * Runs once per stream before its requests are read. `{ok: false}` ends the stream with
   * UNAUTHENTICATED and the message; a throw (e.g. the token reviewer is down) with UNAVAILABLE.
   */
  authenticate?: (ctx: XdsAuthContext) => XdsAuthResult<C> | Promise<XdsAuthResult<C>>;
  /** Metrics go here; a private registry when absent. */
  registry?: Registry;
  log?: Logger;
}

/** One type of one stream, for the debug endpoint. */
export interface XdsTypeDump {
  wildcard: boolean;
  /** Names subscribed explicitly. */
  names: string[];
  /** name → version the proxy holds (ACKed or declared on connect). */
  held: Record<string, string>;
  /** name → version the proxy NACKed (not offered again). */
  refused: Record<string, string>;
  lastNonce: string | null;
  lastAck: string | null;
  lastNack: { nonce: string; message: string } | null;
  /** The nonce of the response awaiting its answer. */
  inFlight: string | null;
  /** A change waits for the response in flight to be answered. */
  pushPending: boolean;
}

export interface XdsConnectionDump {
  id: string;
  /** Node id; null until the first request. */
  node: string | null;
  peer: string;
  connectedAt: string;
  types: Record<string, XdsTypeDump>;
}

export interface XdsServerDump {
  connections: XdsConnectionDump[];
}

type Call = ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

type ConnectionState = 'authenticating' | 'open' | 'closed';

interface Connection<C> {
  readonly seq: number;
  readonly call: Call;
  readonly peer: string;
  readonly connectedAt: Date;
  state: ConnectionState;
  caller: C | undefined;
  /** Set by the first valid request. */
  proxy: XdsProxy<C> | undefined;
  /** Requests that arrived while authenticate() ran. */
  backlog: DeltaDiscoveryRequest[];
  readonly watches: Map<string, Watch>;
}

/** Why the server ended a stream (a metric label). */
type EndReason = 'invalid_argument' | 'unauthenticated' | 'auth_unavailable' | 'backlog' | 'internal' | 'shutdown';

const END_CODES: Record<EndReason, GrpcStatus> = {
  invalid_argument: GrpcStatus.INVALID_ARGUMENT,
  unauthenticated: GrpcStatus.UNAUTHENTICATED,
  auth_unavailable: GrpcStatus.UNAVAILABLE,
  backlog: GrpcStatus.RESOURCE_EXHAUSTED,
  internal: GrpcStatus.INTERNAL,
  shutdown: GrpcStatus.UNAVAILABLE,
};

/** Requests kept while authenticate() runs. */
const MAX_BACKLOG = 64;

interface ServerMetrics {
  connected: Gauge;
  pushes: Counter;
  pushLatency: Histogram;
  nacks: Counter;
  staleNonces: Counter;
  streamsEnded: Counter;
}

function registerMetrics(registry: Registry): ServerMetrics {
  return {
    connected: registry.gauge('xds_server_connected_proxies', 'Delta xDS streams open whose node is known'),
    pushes: registry.counter('xds_server_pushes_total', 'Delta xDS responses sent, by type URL', ['type_url']),
    pushLatency: registry.histogram(
      'xds_server_push_latency_seconds',
      'Time from the change (or request) that made a delta xDS response due to the response being written, by type URL; includes debounce and waiting for the previous ACK',
      ['type_url'],
      [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    ),
    nacks: registry.counter('xds_server_nacks_total', 'Delta xDS responses the proxy rejected (NACK), by type URL', ['type_url']),
    staleNonces: registry.counter('xds_server_stale_nonces_total', 'Delta xDS requests whose response_nonce was not the response in flight (ignored as answers), by type URL', ['type_url']),
    streamsEnded: registry.counter('xds_server_streams_ended_total', 'Delta xDS streams the server ended, by reason', ['reason']),
  };
}

function recordOf(m: ReadonlyMap<string, string>): Record<string, string> {
  return Object.fromEntries(m);
}

export class DeltaXdsServer<C = unknown> {
  readonly #store: ResourceStore<C>;
  readonly #authenticate: DeltaXdsServerOptions<C>['authenticate'];
  readonly #log: Logger;
  readonly #metrics: ServerMetrics;
  readonly #debouncer: ChangeDebouncer;
  readonly #unsubscribe: () => void;
  readonly #connections = new Set<Connection<C>>();
  /** Change batches flushed, per type URL: the default system_version_info. */
  readonly #generations = new Map<string, number>();
  /** Nonces are unique per server instance, and across restarts thanks to the random prefix. */
  readonly #noncePrefix = randomBytes(4).toString('hex');
  #nonceSeq = 0;
  #connSeq = 0;
  #closed = false;

  constructor(opts: DeltaXdsServerOptions<C>) {
    this.#store = opts.store;
    this.#authenticate = opts.authenticate;
    this.#log = (opts.log ?? createLogger({ component: 'xds-server', level: 'silent' })).child({ scope: 'xds-server' });
    this.#metrics = registerMetrics(opts.registry ?? new Registry());
    this.#debouncer = new ChangeDebouncer(opts, (typeUrls, since) => this.#flush(typeUrls, since));
    this.#unsubscribe = this.#store.onChange((typeUrls) => this.#debouncer.add(typeUrls));
  }

  /** Registers DeltaAggregatedResources on `server` (once). */
  /** Serves on `server`; may be called for several (a plaintext and a TLS listener share one state). */
  addTo(server: Server): void {
    server.addService(aggregatedDiscoveryServiceDefinition, {
      DeltaAggregatedResources: (call: Call) => this.#onStream(call),
    });
  }

  /** Streams open (known node or not). */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** What every stream subscribed to and holds, for the controller's debug endpoint. */
  dump(): XdsServerDump {
    const connections: XdsConnectionDump[] = [];
    for (const conn of this.#connections) {
      const types: Record<string, XdsTypeDump> = {};
      for (const [typeUrl, w] of conn.watches) {
        types[typeUrl] = {
          wildcard: w.wildcard,
          names: [...w.names],
          held: recordOf(w.held),
          refused: recordOf(w.refused),
          lastNonce: w.lastNonce ?? null,
          lastAck: w.lastAck ?? null,
          lastNack: w.lastNack ? { ...w.lastNack } : null,
          inFlight: w.inFlight?.nonce ?? null,
          pushPending: w.inFlight !== undefined && w.dirtySince !== undefined,
        };
      }
      connections.push({ id: this.#connectionId(conn), node: conn.proxy?.node.id ?? null, peer: conn.peer, connectedAt: conn.connectedAt.toISOString(), types });
    }
    return { connections };
  }

  /** Stops pushing and ends every stream with UNAVAILABLE (proxies reconnect elsewhere). The gRPC server stays the caller's. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#debouncer.close();
    this.#unsubscribe();
    for (const conn of [...this.#connections]) this.#end(conn, 'shutdown', 'xDS server shutting down');
  }

  #connectionId(conn: Connection<C>): string {
    return `${conn.proxy?.node.id ?? 'unknown'}-${conn.seq}`;
  }

  #onStream(call: Call): void {
    const conn: Connection<C> = {
      seq: ++this.#connSeq,
      call,
      peer: call.getPeer(),
      connectedAt: new Date(),
      state: this.#authenticate ? 'authenticating' : 'open',
      caller: undefined,
      proxy: undefined,
      backlog: [],
      watches: new Map(),
    };
    if (this.#closed) {
      call.emit('error', { code: GrpcStatus.UNAVAILABLE, details: 'xDS server shutting down' });
      return;
    }
    this.#connections.add(conn);
    call.on('data', (req: DeltaDiscoveryRequest) => this.#onRequest(conn, req));
    call.on('end', () => {
      // The proxy closed its side: so do we, with OK.
      if (conn.state === 'closed') return;
      this.#drop(conn, 'proxy closed the stream');
      call.end();
    });
    call.on('cancelled', () => this.#drop(conn, 'cancelled'));
    call.on('error', (err: { details?: string; message?: string }) => this.#drop(conn, `stream error: ${err.details ?? err.message}`));
    if (this.#authenticate) void this.#runAuthenticate(conn, this.#authenticate);
  }

  async #runAuthenticate(conn: Connection<C>, hook: NonNullable<DeltaXdsServerOptions<C>['authenticate']>): Promise<void> {
    let result: XdsAuthResult<C>;
    try {
      result = await hook({ metadata: conn.call.metadata, peer: conn.peer });
    } catch (err) {
      this.#end(conn, 'auth_unavailable', `authentication unavailable: ${(err as Error).message}`);
      return;
    }
    if (conn.state !== 'authenticating') return;
    if (!result.ok) {
      this.#end(conn, 'unauthenticated', `authentication failed: ${result.message}`);
      return;
    }
    conn.caller = result.caller;
    conn.state = 'open';
    for (const req of conn.backlog.splice(0)) this.#onRequest(conn, req);
  }

  #onRequest(conn: Connection<C>, req: DeltaDiscoveryRequest): void {
    if (conn.state === 'closed') return;
    if (conn.state === 'authenticating') {
      // A proxy sends one request per type before hearing back; a flood is not a proxy.
      if (conn.backlog.length >= MAX_BACKLOG) this.#end(conn, 'backlog', `more than ${MAX_BACKLOG} requests before authentication completed`);
      else conn.backlog.push(req);
      return;
    }
    try {
      this.#handle(conn, req);
    } catch (err) {
      // A broken invariant in here must cost one stream, never the process.
      this.#end(conn, 'internal', `internal error: ${(err as Error).message}`);
    }
  }

  #handle(conn: Connection<C>, req: DeltaDiscoveryRequest): void {
    const check = checkRequest(req, conn.proxy === undefined, this.#store.typeUrls);
    if (!check.ok) {
      this.#end(conn, 'invalid_argument', `invalid DeltaDiscoveryRequest: ${check.error}`);
      return;
    }
    if (!conn.proxy) {
      const node = req.node!;
      conn.proxy = {
        connectionId: `${node.id}-${conn.seq}`,
        node,
        metadata: structToJson(node.metadata),
        caller: conn.caller,
        callMetadata: conn.call.metadata,
        peer: conn.peer,
      };
      this.#metrics.connected.inc();
      this.#log.info({ conn: conn.proxy.connectionId, peer: conn.peer }, 'proxy connected');
    }
    const now = Date.now();
    const typeUrl = req.typeUrl;
    let w = conn.watches.get(typeUrl);
    if (req.responseNonce !== '') this.#onAnswer(conn, typeUrl, w, req);
    if (!w) {
      w = openWatch(req, now);
      conn.watches.set(typeUrl, w);
    } else if (req.resourceNamesSubscribe.length > 0 || req.resourceNamesUnsubscribe.length > 0) {
      changeSubscription(w, req.resourceNamesSubscribe, req.resourceNamesUnsubscribe, now);
    }
    if (responseDue(w)) this.#push(conn, w);
  }

  #onAnswer(conn: Connection<C>, typeUrl: string, w: Watch | undefined, req: DeltaDiscoveryRequest): void {
    const label = { type_url: typeUrl };
    const id = conn.proxy?.connectionId;
    if (!w) {
      this.#metrics.staleNonces.inc(label);
      this.#log.debug({ conn: id, typeUrl, nonce: req.responseNonce }, 'answer for a type not subscribed on this stream; ignored');
      return;
    }
    const a = answer(w, req.responseNonce, req.errorDetail);
    switch (a.kind) {
      case 'ack':
        this.#log.debug({ conn: id, typeUrl, nonce: a.nonce }, 'xDS response ACKed');
        return;
      case 'nack':
        this.#metrics.nacks.inc(label);
        this.#log.warn({ conn: id, typeUrl, nonce: a.nonce, refused: a.refused, error: a.message }, 'xDS response rejected by the proxy (NACK)');
        return;
      case 'stale':
        this.#metrics.staleNonces.inc(label);
        this.#log.debug({ conn: id, typeUrl, nonce: a.nonce, expected: a.expected }, 'stale xDS nonce; ignored as an answer');
        return;
    }
  }

  /** Computes and writes the response `w` is due, if it has anything to say (the first always does). */
  #push(conn: Connection<C>, w: Watch): void {
    const proxy = conn.proxy;
    if (!proxy || conn.state !== 'open') return;
    let snapshot: XdsSnapshot;
    try {
      snapshot = this.#store.snapshot(w.typeUrl, proxy);
    } catch (err) {
      this.#end(conn, 'internal', `resource store failed for ${w.typeUrl}: ${(err as Error).message}`);
      return;
    }
    const plan = planResponse(w, snapshot);
    applyBookkeeping(w, plan);
    if (isEmptyPlan(plan) && !w.initial) {
      w.dirtySince = undefined;
      return;
    }
    const now = Date.now();
    const since = w.dirtySince ?? now;
    const nonce = `${this.#noncePrefix}-${++this.#nonceSeq}`;
    const response: DeltaDiscoveryResponse = {
      systemVersionInfo: this.#store.version?.(w.typeUrl) ?? String(this.#generations.get(w.typeUrl) ?? 0),
      typeUrl: w.typeUrl,
      nonce,
      resources: plan.resources.map((r) => ({ name: r.name, version: r.stored.version, resource: r.stored.resource, aliases: [...(r.stored.aliases ?? [])] })),
      removedResources: plan.removed,
      removedResourceNames: [],
    };
    recordSent(w, nonce, plan, now);
    conn.call.write(response);
    const label = { type_url: w.typeUrl };
    this.#metrics.pushes.inc(label);
    this.#metrics.pushLatency.observe(label, (now - since) / 1000);
    this.#log.debug({ conn: proxy.connectionId, typeUrl: w.typeUrl, nonce, resources: plan.resources.length, removed: plan.removed.length }, 'xDS response sent');
  }

  #flush(typeUrls: ReadonlySet<string>, since: number): void {
    for (const t of typeUrls) this.#generations.set(t, (this.#generations.get(t) ?? 0) + 1);
    for (const conn of this.#connections) {
      for (const t of typeUrls) {
        const w = conn.watches.get(t);
        if (!w || conn.state !== 'open') continue;
        w.dirtySince ??= since;
        if (!responseDue(w)) continue;
        try {
          this.#push(conn, w);
        } catch (err) {
          this.#end(conn, 'internal', `internal error: ${(err as Error).message}`);
        }
      }
    }
  }

  /** Ends a stream with a status the proxy sees, logging why (once, here); idempotent. */
  #end(conn: Connection<C>, reason: EndReason, message: string): void {
    if (conn.state === 'closed') return;
    this.#drop(conn, message);
    this.#metrics.streamsEnded.inc({ reason });
    const level = reason === 'shutdown' ? 'debug' : reason === 'internal' || reason === 'auth_unavailable' ? 'error' : 'warn';
    this.#log[level]({ conn: this.#connectionId(conn), peer: conn.peer, reason }, `ending xDS stream: ${message}`);
    conn.call.emit('error', { code: END_CODES[reason], details: message });
  }

  /** Forgets a stream, however it ended. */
  #drop(conn: Connection<C>, why: string): void {
    if (conn.state === 'closed') return;
    conn.state = 'closed';
    conn.backlog.length = 0;
    this.#connections.delete(conn);
    if (conn.proxy) {
      this.#metrics.connected.dec();
      this.#log.info({ conn: conn.proxy.connectionId, why }, 'proxy disconnected');
    }
  }
}
