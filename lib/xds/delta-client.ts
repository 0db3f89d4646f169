// A delta ADS client (envoy.service.discovery.v3 DeltaAggregatedResources) over grpc-js, as ztunnel
// speaks it to istiod: one long-lived bidi stream, a wildcard subscription per type URL on every
// (re)connect carrying the versions we hold, ACK or NACK of every response, and reconnects with
// exponential backoff. What a resource means is not known here: each type URL has a handler that
// applies decoded-or-not `Any`s and reports what it refused. A response we cannot even decode is
// logged, counted and answered by reconnecting; it never takes the process down.
import { Backoff } from '../retry/backoff.ts';
import { EventEmitter } from 'node:events';
import { Client, credentials, experimental, Metadata, type ChannelCredentials, type ClientDuplexStream, type StatusObject } from '@grpc/grpc-js';
import { createLogger, type Logger } from '../log/logger.ts';
import { Registry, type Counter } from '../metrics/registry.ts';
import { DELTA_ADS_METHOD_PATH, deltaAggregatedResourcesMethod, type Any, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse, type Node } from '../proto/index.ts';
import { ackRequest, nextVersions, parseXdsAddress, subscribeRequest, type XdsEndpoint, type XdsRejection } from './delta-requests.ts';

export interface XdsResource {
  name: string;
  version: string;
  resource: Any;
}

/** One response's worth of changes for one type, in the order the server sent them. */
export interface XdsUpdate {
  resources: XdsResource[];
  /** Names the server removed (they may be unknown to the handler: ignore those). */
  removed: string[];
}

/** About the response an update came in. */
export interface XdsResponseInfo {
  /** system_version_info (what Envoy's config dump shows as version_info). */
  systemVersionInfo: string;
}

export interface XdsApplyResult {
  rejected: XdsRejection[];
}

/**
 * Applies one type's updates to the process state. Every resource it does not reject must be in
 * force when apply returns; the client then records its version. A throw is a bug: the client logs
 * it and NACKs the whole response.
 */
export interface XdsHandler {
  readonly typeUrl: string;
  apply(update: XdsUpdate, info?: XdsResponseInfo): XdsApplyResult;
}

export interface XdsBackoffOptions {
  /** First reconnect delay. Default 100 ms. */
  initialMs?: number;
  /** Cap. Default 15 s. */
  maxMs?: number;
}

export interface DeltaXdsClientOptions {
  /** `https://host:port` or `http://host:port` (plaintext, for labs). */
  address: string;
  /** Sent on the first request of each type on every stream; built by the caller. */
  node: Node;
  handlers: readonly XdsHandler[];
  /**
   * PEM roots that verify the server (https only), or a provider whose bundle may change (a
   * reloaded root file: each new connection uses the current one). Undefined: the system roots.
   */
  rootCa?: string | Buffer | experimental.CertificateProvider;
  /** Host name to verify in the server certificate instead of the address host (ALT_XDS_HOSTNAME). */
  serverName?: string;
  /** Read at every stream start; undefined sends no `authorization` header. */
  token?: () => string | undefined;
  /** Sent as `clusterid` metadata when set. */
  clusterId?: string;
  /** Extra metadata on every stream. */
  headers?: Readonly<Record<string, string>>;
  /** Counters go here; a private registry when absent. */
  registry?: Registry;
  log?: Logger;
  backoff?: XdsBackoffOptions;
  /** A stream that delivered a good response and stayed up this long resets the backoff. Default 5 s. */
  healthyAfterMs?: number;
}

export type DeltaXdsClientState = 'idle' | 'streaming' | 'backoff' | 'closed';

const TRANSITIONS: Record<DeltaXdsClientState, readonly DeltaXdsClientState[]> = {
  idle: ['streaming', 'closed'],
  streaming: ['backoff', 'closed'],
  backoff: ['streaming', 'closed'],
  closed: [],
};

export interface DeltaXdsClientStats {
  /** Streams opened (the first one included). */
  streams: number;
  reconnects: number;
  /** Responses received and decoded. */
  messages: number;
  acks: number;
  nacks: number;
  /** Responses that could not be decoded (each ends its stream). */
  malformed: number;
}

type ClientEvents = {
  /** A stream was opened and the subscriptions were written. */
  connected: [];
  disconnected: [reason: string];
  /** The first response of this type was applied (ACKed or NACKed); emitted once per type. */
  synced: [typeUrl: string];
  /** Every subscribed type has synced; emitted once. */
  allSynced: [];
  /** A response was NACKed with this message. */
  nack: [typeUrl: string, message: string];
};

/** What the wire gives us: a decoded response, or why not (the deserializer must not throw). */
type ResponseFrame = { ok: true; response: DeltaDiscoveryResponse } | { ok: false; error: string };

function readFrame(bytes: Buffer): ResponseFrame {
  try {
    return { ok: true, response: deltaAggregatedResourcesMethod.responseDeserialize(bytes) };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** Istio's ztunnel keepalive: PING every 30 s, 10 s to answer. Responses can be large (200 MiB). */
const CHANNEL_OPTIONS = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.max_receive_message_length': 200 * 1024 * 1024,
};

interface ClientMetrics {
  messages: Counter;
  acks: Counter;
  nacks: Counter;
  reconnects: Counter;
  malformed: Counter;
}

function registerMetrics(registry: Registry): ClientMetrics {
  return {
    messages: registry.counter('xds_client_messages_received_total', 'Delta xDS responses received and decoded, by type URL', ['type_url']),
    acks: registry.counter('xds_client_acks_total', 'Delta xDS responses ACKed, by type URL', ['type_url']),
    nacks: registry.counter('xds_client_nacks_total', 'Delta xDS responses NACKed (some or all resources rejected), by type URL', ['type_url']),
    reconnects: registry.counter('xds_client_reconnects_total', 'Delta xDS streams reopened after the previous one ended'),
    malformed: registry.counter('xds_client_malformed_responses_total', 'Delta xDS responses that could not be decoded (the stream is restarted)'),
  };
}

/** The caller's headers and the cluster id; the same on every stream. */
function staticMetadata(opts: Pick<DeltaXdsClientOptions, 'headers' | 'clusterId'>): Metadata {
  const md = new Metadata();
  for (const [k, v] of Object.entries(opts.headers ?? {})) md.set(k, v);
  if (opts.clusterId) md.set('clusterid', opts.clusterId);
  return md;
}

export class DeltaXdsClient extends EventEmitter<ClientEvents> {
  readonly address: string;
  readonly #endpoint: XdsEndpoint;
  readonly #node: Node;
  readonly #handlers = new Map<string, XdsHandler>();
  readonly #opts: DeltaXdsClientOptions;
  readonly #log: Logger;
  readonly #metrics: ClientMetrics;
  readonly #backoff: Backoff;
  readonly #healthyAfterMs: number;
  readonly #stats: DeltaXdsClientStats = { streams: 0, reconnects: 0, messages: 0, acks: 0, nacks: 0, malformed: 0 };
  /** Type URL → resource name → version, for every resource in force. */
  readonly #versions = new Map<string, Map<string, string>>();
  readonly #synced = new Set<string>();
  #state: DeltaXdsClientState = 'idle';
  #grpc: Client | undefined;
  #call: ClientDuplexStream<DeltaDiscoveryRequest, ResponseFrame> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** When the current stream delivered its first good response. */
  #healthySince: number | undefined;

  /** Throws on an unusable address (callers validate configuration first). */
  constructor(opts: DeltaXdsClientOptions) {
    super();
    const parsed = parseXdsAddress(opts.address);
    if (!parsed.ok) throw new TypeError(`xDS address: ${parsed.error}`);
    if (opts.handlers.length === 0) throw new TypeError('xDS client: no handlers');
    this.address = opts.address;
    this.#endpoint = parsed.value;
    this.#node = opts.node;
    for (const h of opts.handlers) {
      if (this.#handlers.has(h.typeUrl)) throw new TypeError(`xDS client: two handlers for ${h.typeUrl}`);
      this.#handlers.set(h.typeUrl, h);
      this.#versions.set(h.typeUrl, new Map());
    }
    staticMetadata(opts); // throws now on a header grpc cannot carry, not later from a timer
    this.#opts = opts;
    this.#log = (opts.log ?? createLogger({ component: 'xds', level: 'silent' })).child({ scope: 'xds' });
    this.#metrics = registerMetrics(opts.registry ?? new Registry());
    this.#backoff = new Backoff(opts.backoff ?? {}, { initialMs: 100, maxMs: 15_000 });
    this.#healthyAfterMs = opts.healthyAfterMs ?? 5_000;
  }

  get state(): DeltaXdsClientState {
    return this.#state;
  }

  get stats(): Readonly<DeltaXdsClientStats> {
    return { ...this.#stats };
  }

  /** True once the first response of `typeUrl` was applied; stays true across reconnects. */
  synced(typeUrl: string): boolean {
    return this.#synced.has(typeUrl);
  }

  allSynced(): boolean {
    return [...this.#handlers.keys()].every((t) => this.#synced.has(t));
  }

  /** Type URLs not synced yet. */
  pendingTypes(): string[] {
    return [...this.#handlers.keys()].filter((t) => !this.#synced.has(t));
  }

  /** Name → version of the resources of `typeUrl` in force. */
  versions(typeUrl: string): ReadonlyMap<string, string> {
    return new Map(this.#versions.get(typeUrl));
  }

  start(): void {
    if (this.#state !== 'idle') return;
    this.#grpc = new Client(this.#endpoint.target, this.#credentials(), {
      ...CHANNEL_OPTIONS,
      // A stream attempt fails fast while the channel is disconnected, so the channel's own
      // reconnect schedule (grpc-js: 1 s growing to 120 s) must not be slower than ours.
      'grpc.initial_reconnect_backoff_ms': this.#backoff.initialMs,
      'grpc.max_reconnect_backoff_ms': this.#backoff.maxMs,
      ...(this.#opts.serverName ? { 'grpc.ssl_target_name_override': this.#opts.serverName, 'grpc.default_authority': this.#opts.serverName } : {}),
    });
    this.#connect();
  }

  /** Stops for good: ends the stream and the channel. */
  async close(): Promise<void> {
    if (!this.#to('closed')) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const call = this.#call;
    this.#call = undefined;
    call?.cancel();
    this.#grpc?.close();
    this.#grpc = undefined;
  }

  #to(next: DeltaXdsClientState): boolean {
    if (!TRANSITIONS[this.#state].includes(next)) return false;
    this.#state = next;
    return true;
  }

  #credentials(): ChannelCredentials {
    if (!this.#endpoint.tls) return credentials.createInsecure();
    const rootCa = this.#opts.rootCa;
    if (rootCa === undefined) return credentials.createSsl(null);
    if (typeof rootCa === 'string' || Buffer.isBuffer(rootCa)) return credentials.createSsl(Buffer.from(rootCa));
    return experimental.createCertificateProviderChannelCredentials(rootCa, null);
  }

  /** Per stream, so a rotated token file is picked up on the next reconnect. */
  #metadata(): Metadata {
    const md = staticMetadata(this.#opts);
    try {
      const token = this.#opts.token?.();
      // Metadata refuses values that are not printable ASCII: a token must not take the stream down.
      if (token) md.set('authorization', `Bearer ${token}`);
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'cannot use the xDS token; connecting without one');
    }
    return md;
  }

  #connect(): void {
    this.#timer = undefined;
    const grpc = this.#grpc;
    if (!grpc || !this.#to('streaming')) return;
    if (this.#stats.streams > 0) {
      this.#stats.reconnects++;
      this.#metrics.reconnects.inc();
    }
    this.#stats.streams++;
    this.#healthySince = undefined;
    const call = grpc.makeBidiStreamRequest<DeltaDiscoveryRequest, ResponseFrame>(
      DELTA_ADS_METHOD_PATH,
      deltaAggregatedResourcesMethod.requestSerialize,
      readFrame,
      this.#metadata(),
      {},
    );
    this.#call = call;
    call.on('data', (frame: ResponseFrame) => this.#onFrame(call, frame));
    // Every end, clean or not, arrives as 'status'; 'error' only needs a listener so it is not fatal.
    call.on('error', () => {});
    call.on('status', (s: StatusObject) => this.#onEnd(call, s.code === 0 ? 'stream closed by the server' : `stream ended: ${s.details || `status ${s.code}`}`));
    for (const typeUrl of this.#handlers.keys()) call.write(subscribeRequest(this.#node, typeUrl, this.#versions.get(typeUrl) ?? new Map()));
    this.#log.debug({ address: this.address, types: [...this.#handlers.keys()] }, 'xDS stream opened');
    this.emit('connected');
  }

  #onEnd(call: ClientDuplexStream<DeltaDiscoveryRequest, ResponseFrame>, reason: string): void {
    if (call !== this.#call) return;
    this.#call = undefined;
    this.emit('disconnected', reason);
    if (!this.#to('backoff')) return;
    const healthy = this.#healthySince !== undefined && Date.now() - this.#healthySince >= this.#healthyAfterMs;
    if (healthy) this.#backoff.reset();
    const delay = this.#backoff.next();
    // A control plane that is not up yet is routine at start; after a good stream it is worth a warning.
    this.#log[this.#healthySince === undefined ? 'debug' : 'warn']({ address: this.address, reason, retryInMs: delay }, 'xDS stream ended; reconnecting');
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  #onFrame(call: ClientDuplexStream<DeltaDiscoveryRequest, ResponseFrame>, frame: ResponseFrame): void {
    if (call !== this.#call) return;
    if (!frame.ok) {
      this.#stats.malformed++;
      this.#metrics.malformed.inc();
      this.#log.error({ address: this.address, err: frame.error }, 'malformed xDS response; restarting the stream');
      // A new stream resynchronises from our versions; what we hold stays in force meanwhile.
      call.cancel();
      this.#onEnd(call, `malformed response: ${frame.error}`);
      return;
    }
    this.#onResponse(call, frame.response);
  }

  #onResponse(call: ClientDuplexStream<DeltaDiscoveryRequest, ResponseFrame>, resp: DeltaDiscoveryResponse): void {
    const typeUrl = resp.typeUrl;
    this.#stats.messages++;
    this.#metrics.messages.inc({ type_url: typeUrl });
    const handler = this.#handlers.get(typeUrl);
    if (!handler) {
      this.#reply(call, typeUrl, resp.nonce, [], `not subscribed to ${typeUrl || '(empty type URL)'}`);
      return;
    }
    // A Resource without a body cannot be applied; it is refused here, the rest go to the handler.
    const rejected: XdsRejection[] = [];
    const resources: XdsResource[] = [];
    for (const r of resp.resources) {
      if (r.resource) resources.push({ name: r.name, version: r.version, resource: r.resource });
      else rejected.push({ name: r.name, reason: 'resource: missing' });
    }
    let result: XdsApplyResult;
    try {
      result = handler.apply({ resources, removed: resp.removedResources }, { systemVersionInfo: resp.systemVersionInfo });
    } catch (err) {
      this.#log.error({ typeUrl, err: (err as Error).message }, 'xDS handler failed; NACKing the response');
      this.#reply(call, typeUrl, resp.nonce, [], `internal error applying the response: ${(err as Error).message}`);
      this.#markHealthy(typeUrl);
      return;
    }
    rejected.push(...result.rejected);
    const held = this.#versions.get(typeUrl) ?? new Map<string, string>();
    this.#versions.set(typeUrl, nextVersions(held, resp.resources, resp.removedResources, rejected));
    this.#log.debug({ typeUrl, updated: resources.length - result.rejected.length, removed: resp.removedResources.length, rejected: rejected.length }, 'xDS response applied');
    this.#reply(call, typeUrl, resp.nonce, rejected);
    this.#markHealthy(typeUrl);
  }

  #reply(call: ClientDuplexStream<DeltaDiscoveryRequest, ResponseFrame>, typeUrl: string, nonce: string, rejected: XdsRejection[], message?: string): void {
    const req = ackRequest(typeUrl, nonce, rejected, message);
    call.write(req);
    const label = { type_url: typeUrl };
    if (req.errorDetail) {
      this.#stats.nacks++;
      this.#metrics.nacks.inc(label);
      this.#log.warn({ typeUrl, nonce, error: req.errorDetail.message }, 'xDS response rejected (NACK)');
      this.emit('nack', typeUrl, req.errorDetail.message);
    } else {
      this.#stats.acks++;
      this.#metrics.acks.inc(label);
    }
  }

  #markHealthy(typeUrl: string): void {
    this.#healthySince ??= Date.now();
    if (this.#synced.has(typeUrl)) return;
    this.#synced.add(typeUrl);
    this.#log.info({ typeUrl }, 'xDS type synced');
    this.emit('synced', typeUrl);
    if (this.allSynced()) this.emit('allSynced');
  }
}
