// The delta xDS server on a real grpc-js server on loopback, with an in-memory store. Clients are our
// DeltaXdsClient, and raw bidi streams where the test must control the wire (initial versions,
// NACKs, stale nonces, malformed requests). Covers the initial state of both Istio types,
// incremental pushes, reconnects, NACKs, ACK-gated coalescing, debouncing, per-proxy independence,
// authentication, malformed requests, subscriptions by name and the debug dump.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Writable } from 'node:stream';
import { Client, credentials, Metadata, Server, ServerCredentials, status as GrpcStatus, type ClientDuplexStream, type StatusObject } from '@grpc/grpc-js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../log/logger.ts';
import { Registry } from '../metrics/registry.ts';
import {
  ADDRESS_TYPE_URL,
  addressCodec,
  AUTHORIZATION_TYPE_URL,
  authorizationCodec,
  DELTA_ADS_METHOD_PATH,
  deltaAggregatedResourcesMethod,
  packAny,
  structFromJson,
  unpackAny,
  type Address,
  type Any,
  type Authorization,
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  type Node,
} from '../proto/index.ts';
import { DeltaXdsClient, type XdsHandler, type XdsUpdate } from './delta-client.ts';
import { DeltaXdsServer, type DeltaXdsServerOptions, type ResourceStore, type XdsProxy } from './server.ts';
import type { XdsStoredResource } from './server-watch.ts';

const ADDR = ADDRESS_TYPE_URL;
const AUTHZ = AUTHORIZATION_TYPE_URL;
const poll = { timeout: 10_000, interval: 5 };

interface Caller {
  serviceAccount: string;
}

function ztunnelNode(ip: string, name: string): Node {
  return {
    id: `ztunnel~${ip}~${name}.istio-system~istio-system.svc.cluster.local`,
    cluster: '',
    metadata: structFromJson({ NAME: name, NAMESPACE: 'istio-system', NODE_NAME: `node-${name}` }),
    userAgentName: 'test',
    userAgentVersionType: { $case: 'userAgentVersion', userAgentVersion: '1' },
    dynamicParameters: {},
    extensions: [],
    clientFeatures: [],
    listeningAddresses: [],
  };
}
const nodeA = ztunnelNode('10.0.0.5', 'zt-a');
const nodeB = ztunnelNode('10.0.0.6', 'zt-b');

const workload = (uid: string, name = uid): Any => packAny(addressCodec, { type: { $case: 'workload', workload: { uid, name, namespace: 'default' } } });
const service = (ns: string, hostname: string): Any => packAny(addressCodec, { type: { $case: 'service', service: { name: hostname.split('.')[0], namespace: ns, hostname } } });
const policy = (ns: string, name: string): Any => packAny(authorizationCodec, { name, namespace: ns });

/** The controller's side in miniature: resources per type, a change feed, optional per-proxy visibility. */
class MemoryStore implements ResourceStore<Caller> {
  readonly typeUrls: ReadonlySet<string> = new Set([ADDR, AUTHZ]);
  readonly data = new Map<string, Map<string, XdsStoredResource>>([
    [ADDR, new Map()],
    [AUTHZ, new Map()],
  ]);
  /** Every proxy a snapshot was taken for, in order. */
  readonly proxies: XdsProxy<Caller>[] = [];
  visible: ((proxy: XdsProxy<Caller>, name: string) => boolean) | undefined;
  failWith: string | undefined;
  readonly #listeners = new Set<(typeUrls: ReadonlySet<string>) => void>();

  /** Sets resources without telling anyone (state before a proxy connects). */
  seed(typeUrl: string, name: string, version: string, resource: Any, aliases?: string[]): void {
    this.data.get(typeUrl)!.set(name, { version, resource, ...(aliases ? { aliases } : {}) });
  }

  put(typeUrl: string, name: string, version: string, resource: Any, aliases?: string[]): void {
    this.seed(typeUrl, name, version, resource, aliases);
    this.notify(typeUrl);
  }

  remove(typeUrl: string, name: string): void {
    this.data.get(typeUrl)!.delete(name);
    this.notify(typeUrl);
  }

  notify(typeUrl: string): void {
    for (const l of this.#listeners) l(new Set([typeUrl]));
  }

  snapshot(typeUrl: string, proxy: XdsProxy<Caller>): Map<string, XdsStoredResource> {
    if (this.failWith) throw new Error(this.failWith);
    this.proxies.push(proxy);
    const out = new Map<string, XdsStoredResource>();
    for (const [name, r] of this.data.get(typeUrl) ?? []) if (!this.visible || this.visible(proxy, name)) out.set(name, r);
    return out;
  }

  onChange(listener: (typeUrls: ReadonlySet<string>) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get listeners(): number {
    return this.#listeners.size;
  }
}

/** Decodes what it is sent (so the bytes are real Istio messages), refusing names in `refuse`. */
class DecodingHandler implements XdsHandler {
  readonly typeUrl: string;
  readonly held = new Map<string, Address | Authorization>();
  readonly updates: XdsUpdate[] = [];
  readonly refuse = new Set<string>();

  constructor(typeUrl: string) {
    this.typeUrl = typeUrl;
  }

  apply(update: XdsUpdate) {
    this.updates.push(update);
    const rejected = [];
    for (const r of update.resources) {
      const decoded = this.typeUrl === ADDR ? unpackAny(addressCodec, r.resource) : unpackAny(authorizationCodec, r.resource);
      if (!decoded.ok) rejected.push({ name: r.name, reason: decoded.error.message });
      else if (this.refuse.has(r.name)) rejected.push({ name: r.name, reason: 'refused by the test' });
      else this.held.set(r.name, decoded.value);
    }
    for (const n of update.removed) this.held.delete(n);
    return { rejected };
  }
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function start(opts: Partial<DeltaXdsServerOptions<Caller>> = {}, port = 0) {
  const store = (opts.store as MemoryStore | undefined) ?? new MemoryStore();
  const registry = new Registry();
  const xds = new DeltaXdsServer<Caller>({ registry, debounceMs: 5, maxDelayMs: 50, ...opts, store });
  const grpc = new Server();
  xds.addTo(grpc);
  const bound = await new Promise<number>((resolve, reject) => {
    grpc.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  const stop = (): void => {
    xds.close();
    grpc.forceShutdown();
  };
  cleanup.push(stop);
  return { xds, store, registry, stop, port: bound, address: `http://127.0.0.1:${bound}` };
}

function client(address: string, node: Node, token?: string) {
  const addr = new DecodingHandler(ADDR);
  const authz = new DecodingHandler(AUTHZ);
  const c = new DeltaXdsClient({ address, node, handlers: [addr, authz], backoff: { initialMs: 10, maxMs: 100 }, ...(token ? { token: () => token } : {}) });
  cleanup.push(() => c.close());
  c.start();
  return { c, addr, authz };
}

/** A bidi stream under the test's full control. */
class RawStream {
  readonly responses: DeltaDiscoveryResponse[] = [];
  status: StatusObject | undefined;
  readonly #client: Client;
  readonly #call: ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

  constructor(port: number, metadata = new Metadata()) {
    this.#client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
    this.#call = this.#client.makeBidiStreamRequest(DELTA_ADS_METHOD_PATH, deltaAggregatedResourcesMethod.requestSerialize, deltaAggregatedResourcesMethod.responseDeserialize, metadata);
    this.#call.on('data', (r: DeltaDiscoveryResponse) => this.responses.push(r));
    this.#call.on('error', () => {});
    this.#call.on('status', (s: StatusObject) => (this.status = s));
    cleanup.push(() => this.close());
  }

  send(fields: Partial<DeltaDiscoveryRequest>): void {
    this.#call.write({ typeUrl: ADDR, resourceNamesSubscribe: [], resourceNamesUnsubscribe: [], resourceLocatorsSubscribe: [], resourceLocatorsUnsubscribe: [], initialResourceVersions: {}, responseNonce: '', ...fields });
  }

  ack(r: DeltaDiscoveryResponse): void {
    this.send({ typeUrl: r.typeUrl, responseNonce: r.nonce });
  }

  async response(i: number): Promise<DeltaDiscoveryResponse> {
    await vi.waitFor(() => expect(this.responses.length).toBeGreaterThan(i), poll);
    return this.responses[i]!;
  }

  async ended(): Promise<StatusObject> {
    await vi.waitFor(() => expect(this.status).toBeDefined(), poll);
    return this.status!;
  }

  close(): void {
    this.#call.cancel();
    this.#client.close();
  }
}

/** A response as name → version and removals, for comparisons. */
function summary(r: DeltaDiscoveryResponse): { resources: Record<string, string>; removed: string[] } {
  return { resources: Object.fromEntries(r.resources.map((x) => [x.name, x.version])), removed: [...r.removedResources].sort() };
}

function metric(registry: Registry, line: string): number {
  const found = registry.render().split('\n').find((l) => l.startsWith(`${line} `));
  return found ? Number(found.slice(line.length + 1)) : 0;
}

describe('DeltaXdsServer', () => {
  it('serves the initial state of both Istio types to our client, which ACKs it', async () => {
    const { xds, store, registry, address } = await start();
    store.seed(ADDR, 'Kubernetes//Pod/default/w1', 'v1', workload('Kubernetes//Pod/default/w1', 'w1'));
    store.seed(ADDR, 'default/echo.default.svc.cluster.local', 'v1', service('default', 'echo.default.svc.cluster.local'));
    store.seed(AUTHZ, 'default/allow-all', 'v1', policy('default', 'allow-all'));
    const { c, addr, authz } = client(address, nodeA);
    await vi.waitFor(() => expect(c.allSynced()).toBe(true), poll);

    const w1 = addr.held.get('Kubernetes//Pod/default/w1') as Address;
    expect(w1.type).toMatchObject({ $case: 'workload', workload: { uid: 'Kubernetes//Pod/default/w1', name: 'w1', namespace: 'default' } });
    expect((addr.held.get('default/echo.default.svc.cluster.local') as Address).type).toMatchObject({ $case: 'service', service: { hostname: 'echo.default.svc.cluster.local' } });
    expect(authz.held.get('default/allow-all')).toMatchObject({ name: 'allow-all', namespace: 'default' });
    expect(c.versions(ADDR)).toEqual(new Map([['Kubernetes//Pod/default/w1', 'v1'], ['default/echo.default.svc.cluster.local', 'v1']]));

    // The store saw who asked: node id, metadata as JSON, no caller without an authenticate hook.
    expect(store.proxies[0]).toMatchObject({ node: { id: nodeA.id }, metadata: { NAME: 'zt-a', NODE_NAME: 'node-zt-a' }, caller: undefined });
    expect(store.proxies[0]!.connectionId).toBe(`${nodeA.id}-1`);
    // Both ACKs arrive and are recorded.
    await vi.waitFor(() => {
      const types = xds.dump().connections[0]!.types;
      for (const t of [ADDR, AUTHZ]) expect(types[t]!.lastAck).toBe(types[t]!.lastNonce);
    }, poll);
    expect(metric(registry, `xds_server_pushes_total{type_url="${ADDR}"}`)).toBe(1);
    expect(metric(registry, `xds_server_pushes_total{type_url="${AUTHZ}"}`)).toBe(1);
    expect(metric(registry, 'xds_server_connected_proxies')).toBe(1);
    expect(metric(registry, `xds_server_push_latency_seconds_count{type_url="${ADDR}"}`)).toBe(1);
  });

  it('pushes additions, updates and removals incrementally', async () => {
    const { store, address } = await start();
    store.seed(ADDR, 'w1', 'v1', workload('w1'));
    const { c, addr } = client(address, nodeA);
    await vi.waitFor(() => expect(c.allSynced()).toBe(true), poll);

    store.put(ADDR, 'w2', 'v1', workload('w2'));
    await vi.waitFor(() => expect(addr.held.has('w2')).toBe(true), poll);
    expect(addr.updates.at(-1)).toEqual({ resources: [{ name: 'w2', version: 'v1', resource: workload('w2') }], removed: [] });

    store.put(ADDR, 'w1', 'v2', workload('w1', 'renamed'));
    await vi.waitFor(() => expect(c.versions(ADDR).get('w1')).toBe('v2'), poll);
    expect(addr.updates.at(-1)?.resources.map((r) => r.name)).toEqual(['w1']);
    expect((addr.held.get('w1') as Address).type).toMatchObject({ workload: { name: 'renamed' } });

    store.remove(ADDR, 'w2');
    await vi.waitFor(() => expect(addr.held.has('w2')).toBe(false), poll);
    expect(addr.updates.at(-1)).toEqual({ resources: [], removed: ['w2'] });

    store.put(AUTHZ, 'default/p', 'v1', policy('default', 'p'));
    await vi.waitFor(() => expect(c.versions(AUTHZ).get('default/p')).toBe('v1'), poll);
    expect(addr.updates).toHaveLength(4); // initial + three changes: the Authorization change did not touch Address
  });

  it('a reconnect with initial_resource_versions gets only what changed and what was removed', async () => {
    const { port, store } = await start();
    store.seed(ADDR, 'keep', 'v1', workload('keep'));
    store.seed(ADDR, 'change', 'v2', workload('change'));
    store.seed(ADDR, 'added', 'v1', workload('added'));
    store.seed(AUTHZ, 'default/p', 'v1', policy('default', 'p'));
    const s = new RawStream(port);
    s.send({ node: nodeA, typeUrl: ADDR, initialResourceVersions: { keep: 'v1', change: 'v1', gone: 'v1' } });
    s.send({ node: nodeA, typeUrl: AUTHZ, initialResourceVersions: { 'default/p': 'v1' } });
    const first = await s.response(0);
    expect(first.typeUrl).toBe(ADDR);
    expect(summary(first)).toEqual({ resources: { change: 'v2', added: 'v1' }, removed: ['gone'] });
    expect(first.nonce).not.toBe('');
    expect(first.systemVersionInfo).not.toBe('');
    // Nothing changed for Authorization: the response is empty, but it comes (the proxy waits for it).
    const second = await s.response(1);
    expect(second).toMatchObject({ typeUrl: AUTHZ, resources: [], removedResources: [] });
    expect(second.nonce).not.toBe(first.nonce);
  });

  it('our client, reconnecting to a restarted server, is sent only the difference', async () => {
    const store = new MemoryStore();
    store.seed(ADDR, 'keep', 'v1', workload('keep'));
    store.seed(ADDR, 'same', 'v1', workload('same'));
    store.seed(ADDR, 'gone', 'v1', workload('gone'));
    const first = await start({ store });
    const { c, addr } = client(first.address, nodeA);
    await vi.waitFor(() => expect(c.allSynced()).toBe(true), poll);
    // The controller restarts; meanwhile one resource changes and one disappears.
    first.stop();
    await vi.waitFor(() => expect(c.stats.reconnects).toBeGreaterThanOrEqual(1), poll);
    store.seed(ADDR, 'keep', 'v2', workload('keep', 'k2'));
    store.data.get(ADDR)!.delete('gone');
    await start({ store }, first.port);
    await vi.waitFor(() => expect(addr.held.has('gone')).toBe(false), poll);
    expect(addr.updates.at(-1)).toEqual({ resources: [{ name: 'keep', version: 'v2', resource: workload('keep', 'k2') }], removed: ['gone'] });
    expect(c.versions(ADDR)).toEqual(new Map([['keep', 'v2'], ['same', 'v1']]));
  });

  it('a NACK is logged and counted, the stream stays up, and the refused version is not re-sent', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const { xds, store, registry, port } = await start({ log: createLogger({ component: 'test', level: 'warn', destination: sink }) });
    store.seed(ADDR, 'a', 'v1', workload('a'));
    const s = new RawStream(port);
    s.send({ node: nodeA });
    const r0 = await s.response(0);
    s.send({ responseNonce: r0.nonce, errorDetail: { code: 3, message: 'a: bad address' } as never });
    await vi.waitFor(() => expect(metric(registry, `xds_server_nacks_total{type_url="${ADDR}"}`)).toBe(1), poll);
    expect(lines.join('')).toContain('a: bad address');
    expect(xds.dump().connections[0]!.types[ADDR]).toMatchObject({ held: {}, refused: { a: 'v1' }, lastNack: { nonce: r0.nonce, message: 'a: bad address' }, lastAck: null, inFlight: null });

    // Another resource changes: only it is sent (a resend of `a` would come first on the stream).
    store.put(ADDR, 'b', 'v1', workload('b'));
    const r1 = await s.response(1);
    expect(summary(r1)).toEqual({ resources: { b: 'v1' }, removed: [] });
    s.ack(r1);
    // The refused resource changes: the new version is sent.
    store.put(ADDR, 'a', 'v2', workload('a'));
    const r2 = await s.response(2);
    expect(summary(r2)).toEqual({ resources: { a: 'v2' }, removed: [] });
    s.ack(r2);
    await vi.waitFor(() => expect(xds.dump().connections[0]!.types[ADDR]!.held).toEqual({ a: 'v2', b: 'v1' }), poll);
    expect(xds.dump().connections[0]!.types[ADDR]!.refused).toEqual({});
    expect(s.status).toBeUndefined();
    expect(s.responses).toHaveLength(3);
  });

  it('our client NACKing a resource keeps its stream; the other resources are held', async () => {
    const { xds, store, registry, address } = await start();
    const { c, addr } = client(address, nodeA);
    await vi.waitFor(() => expect(c.allSynced()).toBe(true), poll);
    addr.refuse.add('x');
    store.put(ADDR, 'x', 'v1', workload('x'));
    await vi.waitFor(() => expect(metric(registry, `xds_server_nacks_total{type_url="${ADDR}"}`)).toBe(1), poll);
    store.put(ADDR, 'y', 'v1', workload('y'));
    await vi.waitFor(() => expect(addr.held.has('y')).toBe(true), poll);
    expect(addr.updates.at(-1)?.resources.map((r) => r.name)).toEqual(['y']);
    expect(c.stats).toMatchObject({ streams: 1, nacks: 1 });
    await vi.waitFor(() => expect(xds.dump().connections[0]!.types[ADDR]!.held).toEqual({ y: 'v1' }), poll);
  });

  it('ignores stale nonces as answers; a change waits for the ACK of the response in flight', async () => {
    const { xds, store, registry, port } = await start();
    store.seed(ADDR, 'a', 'v1', workload('a'));
    const s = new RawStream(port);
    s.send({ node: nodeA });
    const r0 = await s.response(0);
    store.put(ADDR, 'b', 'v1', workload('b'));
    // The change was flushed, but r0 is not answered yet: it waits.
    await vi.waitFor(() => expect(xds.dump().connections[0]!.types[ADDR]!.pushPending).toBe(true), poll);
    s.send({ responseNonce: 'not-a-nonce-we-sent' });
    await vi.waitFor(() => expect(metric(registry, `xds_server_stale_nonces_total{type_url="${ADDR}"}`)).toBe(1), poll);
    expect(xds.dump().connections[0]!.types[ADDR]).toMatchObject({ held: {}, inFlight: r0.nonce, lastAck: null });
    expect(s.responses).toHaveLength(1);
    s.ack(r0);
    const r1 = await s.response(1);
    expect(summary(r1)).toEqual({ resources: { b: 'v1' }, removed: [] });
  });

  it('changes that do not concern a proxy send it nothing', async () => {
    const { store, registry, port } = await start();
    store.visible = (proxy, name) => !name.startsWith('hidden') || proxy.node.id === nodeB.id;
    const s = new RawStream(port);
    s.send({ node: nodeA });
    s.ack(await s.response(0));
    store.notify(ADDR); // nothing actually changed
    store.put(ADDR, 'hidden-1', 'v1', workload('hidden-1')); // not visible to A
    store.put(AUTHZ, 'default/p', 'v1', policy('default', 'p')); // A did not subscribe to Authorization
    await nextTurn();
    store.put(ADDR, 'seen', 'v1', workload('seen'));
    const r1 = await s.response(1);
    expect(summary(r1)).toEqual({ resources: { seen: 'v1' }, removed: [] });
    expect(metric(registry, `xds_server_pushes_total{type_url="${ADDR}"}`)).toBe(2);
    expect(metric(registry, `xds_server_pushes_total{type_url="${AUTHZ}"}`)).toBe(0);
  });

  it('coalesces 50 rapid changes into one or two pushes', async () => {
    const { store, registry, address } = await start({ debounceMs: 100, maxDelayMs: 1_000 });
    const { c, addr } = client(address, nodeA);
    await vi.waitFor(() => expect(c.allSynced()).toBe(true), poll);
    const label = `xds_server_pushes_total{type_url="${ADDR}"}`;
    const before = metric(registry, label);
    for (let i = 0; i < 50; i++) {
      store.put(ADDR, `w${i % 10}`, `v${i}`, workload(`w${i % 10}`));
      await nextTurn();
    }
    await vi.waitFor(() => expect(c.versions(ADDR).get('w9')).toBe('v49'), poll);
    const pushes = metric(registry, label) - before;
    expect(pushes).toBeGreaterThanOrEqual(1);
    expect(pushes).toBeLessThanOrEqual(2);
    expect(addr.updates.length - 1).toBe(pushes);
    expect(c.versions(ADDR)).toEqual(new Map(Array.from({ length: 10 }, (_, i) => [`w${i}`, `v${40 + i}`])));
  });

  it('two proxies get independent state', async () => {
    const { xds, store, address } = await start();
    store.visible = (proxy, name) => name !== 'only-b' || proxy.node.id === nodeB.id;
    store.seed(ADDR, 'shared', 'v1', workload('shared'));
    store.seed(ADDR, 'only-b', 'v1', workload('only-b'));
    store.seed(ADDR, 'x', 'v1', workload('x'));
    const a = client(address, nodeA);
    a.addr.refuse.add('x');
    const b = client(address, nodeB);
    await vi.waitFor(() => expect(a.c.allSynced() && b.c.allSynced()).toBe(true), poll);
    expect([...a.addr.held.keys()].sort()).toEqual(['shared']);
    expect([...b.addr.held.keys()].sort()).toEqual(['only-b', 'shared', 'x']);

    const byNode = () => Object.fromEntries(xds.dump().connections.map((conn) => [conn.node, conn.types[ADDR]!]));
    await vi.waitFor(() => {
      const d = byNode();
      // A's NACK named x only: shared counts as held, x as refused.
      expect(d[nodeA.id]).toMatchObject({ held: { shared: 'v1' }, refused: { x: 'v1' }, lastNack: { message: 'x: refused by the test' } });
      expect(d[nodeB.id]).toMatchObject({ held: { shared: 'v1', 'only-b': 'v1', x: 'v1' }, refused: {} });
    }, poll);

    store.put(ADDR, 'shared', 'v2', workload('shared'));
    await vi.waitFor(() => expect([a.c.versions(ADDR).get('shared'), b.c.versions(ADDR).get('shared')]).toEqual(['v2', 'v2']), poll);
    // Each saw exactly the change, nothing of the other's state.
    expect(a.addr.updates.at(-1)?.resources.map((r) => r.name)).toEqual(['shared']);
    expect(b.addr.updates.at(-1)?.resources.map((r) => r.name)).toEqual(['shared']);
    const d = byNode();
    expect(d[nodeA.id]!.lastNonce).not.toBe(d[nodeB.id]!.lastNonce);
  });

  it('authenticate: a rejected caller gets UNAUTHENTICATED, an accepted one reaches the store', async () => {
    const { store, registry, port, address } = await start({
      authenticate: async ({ metadata }) => {
        await nextTurn(); // requests arriving meanwhile must wait, not be lost
        const auth = metadata.get('authorization')[0];
        return auth === 'Bearer good' ? { ok: true, caller: { serviceAccount: 'istio-system/ztunnel' } } : { ok: false, message: 'token not accepted' };
      },
    });
    store.seed(ADDR, 'w1', 'v1', workload('w1'));
    const md = new Metadata();
    md.set('authorization', 'Bearer forged');
    const bad = new RawStream(port, md);
    bad.send({ node: nodeA });
    const st = await bad.ended();
    expect(st.code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(st.details).toBe('authentication failed: token not accepted');
    expect(bad.responses).toHaveLength(0);
    expect(store.proxies).toHaveLength(0);

    const { c, addr } = client(address, nodeA, 'good');
    await vi.waitFor(() => expect(c.allSynced()).toBe(true), poll);
    expect(addr.held.has('w1')).toBe(true);
    expect(store.proxies[0]!.caller).toEqual({ serviceAccount: 'istio-system/ztunnel' });
    expect(metric(registry, 'xds_server_streams_ended_total{reason="unauthenticated"}')).toBe(1);
  });

  it('authenticate throwing ends the stream with UNAVAILABLE', async () => {
    const { port } = await start({
      authenticate: () => {
        throw new Error('token review unreachable');
      },
    });
    const s = new RawStream(port);
    s.send({ node: nodeA });
    const st = await s.ended();
    expect(st.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(st.details).toMatch(/token review unreachable/);
  });

  it('a flood of requests while authenticating ends the stream with RESOURCE_EXHAUSTED', async () => {
    let release: (() => void) | undefined;
    const { port } = await start({
      authenticate: () => new Promise<{ ok: true; caller: Caller }>((resolve) => (release = () => resolve({ ok: true, caller: { serviceAccount: 'x' } }))),
    });
    const s = new RawStream(port);
    for (let i = 0; i < 65; i++) s.send({ node: nodeA });
    const st = await s.ended();
    expect(st.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(st.details).toBe('more than 64 requests before authentication completed');
    release?.();
  });

  it('a malformed request ends its own stream with INVALID_ARGUMENT, and no other', async () => {
    const { xds, store, registry, port, address } = await start();
    const { c, addr } = client(address, nodeA);
    await vi.waitFor(() => expect(c.allSynced()).toBe(true), poll);

    const noNode = new RawStream(port);
    noNode.send({});
    const unserved = new RawStream(port);
    unserved.send({ node: nodeB, typeUrl: 'type.googleapis.com/envoy.config.cluster.v3.Cluster' });
    const laterBad = new RawStream(port);
    laterBad.send({ node: nodeB });
    await laterBad.response(0);
    laterBad.send({ typeUrl: '' });

    const [s1, s2, s3] = await Promise.all([noNode.ended(), unserved.ended(), laterBad.ended()]);
    expect(s1).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, details: 'invalid DeltaDiscoveryRequest: node.id: required on the first request of a stream' });
    expect(s2.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(s2.details).toMatch(/type_url: "type\.googleapis\.com\/envoy\.config\.cluster\.v3\.Cluster" is not served here/);
    expect(s3).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, details: 'invalid DeltaDiscoveryRequest: type_url: missing' });
    expect(metric(registry, 'xds_server_streams_ended_total{reason="invalid_argument"}')).toBe(3);

    // The good stream is untouched and still served.
    store.put(ADDR, 'after', 'v1', workload('after'));
    await vi.waitFor(() => expect(addr.held.has('after')).toBe(true), poll);
    expect(c.stats.streams).toBe(1);
    await vi.waitFor(() => expect(xds.dump().connections.map((conn) => conn.node)).toEqual([nodeA.id]), poll);
    expect(metric(registry, 'xds_server_connected_proxies')).toBe(1);
  });

  it('named subscriptions: Istio on-demand gets an empty first response, then a resource by alias and the removal of a name that does not exist', async () => {
    const { xds, store, port } = await start();
    store.seed(ADDR, 'Kubernetes//Pod/default/w1', 'v1', workload('Kubernetes//Pod/default/w1'), ['network1/10.1.0.7']);
    store.seed(ADDR, 'other', 'v1', workload('other'));
    const s = new RawStream(port);
    s.send({ node: nodeA, resourceNamesSubscribe: ['*'], resourceNamesUnsubscribe: ['*'] });
    const r0 = await s.response(0);
    expect(summary(r0)).toEqual({ resources: {}, removed: [] });
    s.ack(r0);
    s.send({ resourceNamesSubscribe: ['network1/10.1.0.7', 'default/nope.default.svc.cluster.local'] });
    const r1 = await s.response(1);
    expect(summary(r1)).toEqual({ resources: { 'Kubernetes//Pod/default/w1': 'v1' }, removed: ['default/nope.default.svc.cluster.local'] });
    expect(r1.resources[0]!.aliases).toEqual(['network1/10.1.0.7']);
    s.ack(r1);
    // Changes to what it did not subscribe to are not sent; to what it did, are.
    store.put(ADDR, 'other', 'v2', workload('other'));
    store.put(ADDR, 'Kubernetes//Pod/default/w1', 'v2', workload('Kubernetes//Pod/default/w1'), ['network1/10.1.0.7']);
    expect(summary(await s.response(2))).toEqual({ resources: { 'Kubernetes//Pod/default/w1': 'v2' }, removed: [] });
    expect(xds.dump().connections[0]!.types[ADDR]).toMatchObject({ wildcard: false, names: ['network1/10.1.0.7', 'default/nope.default.svc.cluster.local'] });
  });

  it('dump() lists each connection with its node, subscriptions, held versions and nonces', async () => {
    const { xds, store, port } = await start();
    store.seed(ADDR, 'w1', 'v1', workload('w1'));
    store.seed(AUTHZ, 'default/p', 'v3', policy('default', 'p'));
    expect(xds.dump()).toEqual({ connections: [] });
    const s = new RawStream(port);
    s.send({ node: nodeA });
    s.send({ node: nodeA, typeUrl: AUTHZ });
    const r0 = await s.response(0);
    const r1 = await s.response(1);
    s.ack(r0);
    s.ack(r1);
    await vi.waitFor(() => expect(xds.dump().connections[0]!.types[AUTHZ]!.lastAck).toBe(r1.nonce), poll);
    const [conn] = xds.dump().connections;
    expect(conn).toEqual({
      id: `${nodeA.id}-1`,
      node: nodeA.id,
      peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      connectedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      types: {
        [ADDR]: { wildcard: true, names: [], held: { w1: 'v1' }, refused: {}, lastNonce: r0.nonce, lastAck: r0.nonce, lastNack: null, inFlight: null, pushPending: false },
        [AUTHZ]: { wildcard: true, names: [], held: { 'default/p': 'v3' }, refused: {}, lastNonce: r1.nonce, lastAck: r1.nonce, lastNack: null, inFlight: null, pushPending: false },
      },
    });
    expect(JSON.parse(JSON.stringify(xds.dump()))).toEqual(xds.dump());
    s.close();
    await vi.waitFor(() => expect(xds.dump().connections).toEqual([]), poll);
  });

  it('a store that throws ends that stream with INTERNAL', async () => {
    const { store, port, registry } = await start();
    store.failWith = 'index corrupted';
    const s = new RawStream(port);
    s.send({ node: nodeA });
    const st = await s.ended();
    expect(st.code).toBe(GrpcStatus.INTERNAL);
    expect(st.details).toBe(`resource store failed for ${ADDR}: index corrupted`);
    expect(metric(registry, 'xds_server_streams_ended_total{reason="internal"}')).toBe(1);
  });

  it('close() ends every stream with UNAVAILABLE and stops listening to the store', async () => {
    const { xds, store, registry, port } = await start();
    const s = new RawStream(port);
    s.send({ node: nodeA });
    await s.response(0);
    expect(store.listeners).toBe(1);
    xds.close();
    expect((await s.ended()).code).toBe(GrpcStatus.UNAVAILABLE);
    expect(store.listeners).toBe(0);
    expect(metric(registry, 'xds_server_connected_proxies')).toBe(0);
    const late = new RawStream(port);
    late.send({ node: nodeA });
    expect((await late.ended()).code).toBe(GrpcStatus.UNAVAILABLE);
  });

  it('serves the same state on a second gRPC server (a plaintext and a TLS listener)', async () => {
    const { xds, store } = await start();
    const second = new Server();
    xds.addTo(second);
    const port2 = await new Promise<number>((r, j) => second.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? j(e) : r(p))));
    try {
      store.seed(ADDR, 'w1', 'v1', workload('w1'));
      const s = new RawStream(port2);
      s.send({ node: nodeA, typeUrl: ADDR });
      expect((await s.response(0)).resources.map((r) => r.name)).toEqual(['w1']);
    } finally {
      second.forceShutdown();
    }
  });
});
