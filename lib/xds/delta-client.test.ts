// The delta xDS client against a real grpc-js server on loopback: subscriptions and metadata on
// every stream, ACK/NACK, version tracking across reconnects, malformed responses, retry until the
// server is up, TLS with a given root, and close().
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Registry } from '../metrics/registry.ts';
import { structFromJson, type Any, type Node } from '../proto/index.ts';
import { DeltaXdsClient, type DeltaXdsClientOptions, type XdsHandler, type XdsUpdate } from './delta-client.ts';
import { testServerPki, XdsTestServer } from './test-server.ts';

const A = 'type.googleapis.com/test.A';
const B = 'type.googleapis.com/test.B';
const node: Node = { id: 'ztunnel~10.0.0.5~zt-1.istio-system~istio-system.svc.cluster.local', cluster: '', metadata: structFromJson({ NAME: 'zt-1' }), userAgentName: 'test', userAgentVersionType: { $case: 'userAgentVersion', userAgentVersion: '1' }, dynamicParameters: {}, extensions: [], clientFeatures: [], listeningAddresses: [] };
const poll = { timeout: 10_000, interval: 10 };

/** Resource bodies in these tests are opaque bytes; the handler refuses the ones reading "bad". */
const body = (text: string): Any => ({ typeUrl: 'type.googleapis.com/test.Body', value: Buffer.from(text) });

class RecordingHandler implements XdsHandler {
  readonly typeUrl: string;
  readonly held = new Map<string, string>();
  readonly updates: XdsUpdate[] = [];
  throwNext = false;

  constructor(typeUrl: string) {
    this.typeUrl = typeUrl;
  }

  apply(update: XdsUpdate) {
    if (this.throwNext) {
      this.throwNext = false;
      throw new Error('invariant broken');
    }
    this.updates.push(update);
    const rejected = [];
    for (const r of update.resources) {
      const text = Buffer.from(r.resource.value).toString();
      if (text === 'bad') rejected.push({ name: r.name, reason: 'body: bad' });
      else this.held.set(r.name, text);
    }
    for (const n of update.removed) this.held.delete(n);
    return { rejected };
  }
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function server(opts?: Parameters<typeof XdsTestServer.start>[0]): Promise<XdsTestServer> {
  const s = await XdsTestServer.start(opts);
  cleanup.push(() => s.close());
  return s;
}

function client(opts: Partial<DeltaXdsClientOptions> & { address: string }): { c: DeltaXdsClient; a: RecordingHandler; b: RecordingHandler } {
  const a = new RecordingHandler(A);
  const b = new RecordingHandler(B);
  const c = new DeltaXdsClient({ node, handlers: [a, b], backoff: { initialMs: 10, maxMs: 100 }, ...opts });
  cleanup.push(() => c.close());
  c.start();
  return { c, a, b };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('DeltaXdsClient', () => {
  it('subscribes to every type with the node, token and cluster id; syncs and ACKs', async () => {
    const s = await server();
    s.resources(A).set('a1', { name: 'a1', version: 'v1', resource: body('one') });
    const synced: string[] = [];
    const { c, a, b } = client({ address: s.address, token: () => 'tok-1', clusterId: 'cluster-7', headers: { 'x-extra': 'yes' } });
    c.on('synced', (t) => synced.push(t));
    await vi.waitFor(() => expect(c.allSynced()).toBe(true), poll);
    expect(synced.sort()).toEqual([A, B]);
    expect(a.held).toEqual(new Map([['a1', 'one']]));
    expect(b.updates).toEqual([{ resources: [], removed: [] }]);
    const [stream] = s.streams;
    expect(stream!.metadata.get('authorization')).toEqual(['Bearer tok-1']);
    expect(stream!.metadata.get('clusterid')).toEqual(['cluster-7']);
    expect(stream!.metadata.get('x-extra')).toEqual(['yes']);
    const [subA, subB] = stream!.requests;
    expect(subA).toMatchObject({ typeUrl: A, node: { id: node.id }, resourceNamesSubscribe: [], initialResourceVersions: {}, responseNonce: '' });
    expect(subB).toMatchObject({ typeUrl: B, node: { id: node.id } });
    await vi.waitFor(() => expect(stream!.requests.filter((r) => r.responseNonce !== '')).toHaveLength(2), poll);
    for (const ack of stream!.requests.slice(2)) expect(ack.errorDetail).toBeUndefined();
    expect(c.versions(A)).toEqual(new Map([['a1', 'v1']]));
    expect(c.stats).toMatchObject({ streams: 1, reconnects: 0, messages: 2, acks: 2, nacks: 0 });
  });

  it.each([
    ['no token', () => undefined],
    ['a token metadata cannot carry', () => 'line1\nline2'],
    ['a token source that throws', () => {
      throw new Error('EACCES');
    }],
  ])('connects without an authorization header given %s', async (_name, token) => {
    const s = await server();
    const { c } = client({ address: s.address, token });
    await vi.waitFor(() => expect(c.allSynced()).toBe(true), poll);
    expect(s.streams[0]!.metadata.get('authorization')).toEqual([]);
    expect(s.streams[0]!.metadata.get('clusterid')).toEqual([]);
  });

  it('NACKs refused resources by name and reason, applies the rest, keeps the stream', async () => {
    const s = await server();
    const { c, a } = client({ address: s.address });
    await vi.waitFor(() => expect(c.allSynced()).toBe(true), poll);
    const nacks: string[] = [];
    c.on('nack', (_t, m) => nacks.push(m));
    s.update(A, { upsert: [{ name: 'good', version: 'v1', resource: body('fine') }, { name: 'x', version: 'v1', resource: body('bad') }, { name: 'y', version: 'v1', resource: body('bad') }] });
    await vi.waitFor(() => expect(nacks).toEqual(['x: body: bad; y: body: bad']), poll);
    const stream = s.streams[0]!;
    await vi.waitFor(() => expect(stream.requests.at(-1)?.errorDetail).toBeDefined(), poll);
    const nack = stream.requests.at(-1)!;
    expect(nack).toMatchObject({ typeUrl: A, errorDetail: { message: 'x: body: bad; y: body: bad' } });
    expect(nack.responseNonce).not.toBe('');
    expect(a.held.get('good')).toBe('fine');
    expect(c.versions(A)).toEqual(new Map([['good', 'v1']]));
    expect(stream.open).toBe(true);
    expect(s.streams).toHaveLength(1);
    expect(c.stats.nacks).toBe(1);
  });

  it('a resource without a body is refused by the client itself', async () => {
    const s = await server();
    const { c, a } = client({ address: s.address });
    await vi.waitFor(() => expect(c.allSynced()).toBe(true), poll);
    s.streams[0]!.send({ typeUrl: A, resources: [{ name: 'empty', version: '1', aliases: [] }, { name: 'ok', version: '1', aliases: [], resource: body('ok') }] });
    await vi.waitFor(() => expect(s.streams[0]!.requests.at(-1)?.errorDetail?.message).toBe('empty: resource: missing'), poll);
    expect(a.held.get('ok')).toBe('ok');
  });

  it('a handler that throws NACKs the whole response; a type nobody subscribed is NACKed', async () => {
    const s = await server();
    const { c, a } = client({ address: s.address });
    await vi.waitFor(() => expect(c.allSynced()).toBe(true), poll);
    a.throwNext = true;
    s.update(A, { upsert: [{ name: 'r', version: '1', resource: body('x') }] });
    await vi.waitFor(() => expect(s.streams[0]!.requests.at(-1)?.errorDetail?.message).toMatch(/^internal error applying the response: invariant broken/), poll);
    expect(c.versions(A).has('r')).toBe(false);
    s.streams[0]!.send({ typeUrl: 'type.googleapis.com/other', resources: [] });
    await vi.waitFor(() => expect(s.streams[0]!.requests.at(-1)).toMatchObject({ typeUrl: 'type.googleapis.com/other', errorDetail: { message: 'not subscribed to type.googleapis.com/other' } }), poll);
    expect(s.streams[0]!.open).toBe(true);
  });

  it('on reconnect, offers what it holds; the server sends only what changed and what was removed', async () => {
    const s = await server();
    s.resources(A).set('keep', { name: 'keep', version: 'v1', resource: body('k') });
    s.resources(A).set('change', { name: 'change', version: 'v1', resource: body('c1') });
    s.resources(A).set('gone', { name: 'gone', version: 'v1', resource: body('g') });
    let token = 'tok-1';
    const { c, a } = client({ address: s.address, token: () => token });
    await vi.waitFor(() => expect(c.allSynced()).toBe(true), poll);
    expect(a.held.size).toBe(3);

    // While the client is away: one resource changes, one disappears; the token rotates.
    s.resources(A).set('change', { name: 'change', version: 'v2', resource: body('c2') });
    s.resources(A).delete('gone');
    token = 'tok-2';
    s.dropStreams();
    await vi.waitFor(() => expect(s.streams[1]?.requests.length).toBeGreaterThanOrEqual(2), poll);
    const second = s.streams[1]!;
    expect(second.metadata.get('authorization')).toEqual(['Bearer tok-2']);
    expect(second.requests[0]).toMatchObject({ typeUrl: A, node: { id: node.id }, initialResourceVersions: { keep: 'v1', change: 'v1', gone: 'v1' } });
    expect(second.requests[1]).toMatchObject({ typeUrl: B, initialResourceVersions: {} });
    await vi.waitFor(() => expect(Object.fromEntries(a.held)).toEqual({ keep: 'k', change: 'c2' }), poll);
    expect(a.updates.at(-1)).toEqual({ resources: [{ name: 'change', version: 'v2', resource: body('c2') }], removed: ['gone'] });
    expect(c.versions(A)).toEqual(new Map([['keep', 'v1'], ['change', 'v2']]));
    expect(c.stats.reconnects).toBe(1);
  });

  it('a response that does not decode is counted and the stream restarted; nothing crashes', async () => {
    const s = await server();
    s.resources(A).set('a1', { name: 'a1', version: 'v1', resource: body('one') });
    const registry = new Registry();
    const { c, a } = client({ address: s.address, registry });
    await vi.waitFor(() => expect(c.allSynced()).toBe(true), poll);
    // Field 2 (resources) as a length-delimited field claiming 5 bytes that are not there.
    s.streams[0]!.sendRaw(Buffer.from([0x12, 0x05, 0x0a]));
    await vi.waitFor(() => expect(s.streams[1]?.requests.length).toBeGreaterThanOrEqual(1), poll);
    expect(c.stats.malformed).toBe(1);
    expect(s.streams[1]!.requests[0]).toMatchObject({ initialResourceVersions: { a1: 'v1' } });
    expect(a.held.get('a1')).toBe('one');
    // The new stream works.
    s.update(A, { upsert: [{ name: 'a2', version: 'v1', resource: body('two') }] });
    await vi.waitFor(() => expect(a.held.get('a2')).toBe('two'), poll);
    const text = registry.render();
    expect(text).toContain('xds_client_malformed_responses_total 1');
    expect(text).toContain('xds_client_reconnects_total 1');
    expect(text).toContain(`xds_client_acks_total{type_url="${A}"}`);
    // A: the first snapshot, the empty resync (nothing changed), the update.
    expect(text).toContain(`xds_client_messages_received_total{type_url="${A}"} 3`);
  });

  it('retries until the server comes up', async () => {
    const port = await freePort();
    const { c } = client({ address: `http://127.0.0.1:${port}` });
    await vi.waitFor(() => expect(c.stats.reconnects).toBeGreaterThanOrEqual(2), poll);
    expect(c.allSynced()).toBe(false);
    expect(c.state === 'backoff' || c.state === 'streaming').toBe(true);
    await server({ port });
    await vi.waitFor(() => expect(c.allSynced()).toBe(true), poll);
  });

  it('speaks TLS verified against the given root', async () => {
    const pki = await testServerPki();
    const s = await server({ tls: { certPem: pki.certPem, keyPem: pki.keyPem } });
    s.resources(A).set('a1', { name: 'a1', version: 'v1', resource: body('one') });
    const { c, a } = client({ address: `https://localhost:${s.port}`, rootCa: pki.rootPem });
    await vi.waitFor(() => expect(c.allSynced()).toBe(true), poll);
    expect(a.held.get('a1')).toBe('one');
  });

  it('does not sync with a server its root does not vouch for', async () => {
    const pki = await testServerPki();
    const other = await testServerPki();
    const s = await server({ tls: { certPem: pki.certPem, keyPem: pki.keyPem } });
    const { c } = client({ address: `https://localhost:${s.port}`, rootCa: other.rootPem });
    await vi.waitFor(() => expect(c.stats.reconnects).toBeGreaterThanOrEqual(2), poll);
    expect(c.allSynced()).toBe(false);
    expect(s.streams).toHaveLength(0);
  });

  it('close() ends the stream and stops reconnecting', async () => {
    const s = await server();
    const { c } = client({ address: s.address });
    await vi.waitFor(() => expect(c.allSynced()).toBe(true), poll);
    await c.close();
    expect(c.state).toBe('closed');
    await vi.waitFor(() => expect(s.openStreams()).toHaveLength(0), poll);
    // Closed is final: no transition leads out of it, so nothing can open a stream again.
    c.start();
    expect(c.state).toBe('closed');
    expect(s.streams).toHaveLength(1);
  });

  it('refuses an unusable address at construction', () => {
    expect(() => new DeltaXdsClient({ address: 'istiod:15012', node, handlers: [new RecordingHandler(A)] })).toThrow(/xDS address/);
    expect(() => new DeltaXdsClient({ address: 'http://x:1', node, handlers: [] })).toThrow(/no handlers/);
    expect(() => new DeltaXdsClient({ address: 'http://x:1', node, handlers: [new RecordingHandler(A)], headers: { 'bad header': 'x' } })).toThrow();
    expect(() => new DeltaXdsClient({ address: 'http://x:1', node, handlers: [new RecordingHandler(A), new RecordingHandler(A)] })).toThrow(/two handlers/);
  });
});
