// The informer against a scripted apiserver on loopback (list in pages from the test, watch over
// HTTP): a watch the client's idle timer ends is re-opened at once from the last resourceVersion,
// as is one the server ends (its timeoutSeconds, bookmarks tracked); 410 relists; lists are paged;
// an optional kind that is not served counts as synced and is picked up when it appears; real
// errors back off.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { KubeConfig, type KubernetesListObject, type V1ConfigMap } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../log/logger.ts';
import { Informer, type InformerOptions, type ListPage } from './informer.ts';

type WatchStep = (res: ServerResponse, query: URLSearchParams) => void;

const cm = (name: string, rv: string): V1ConfigMap => ({ metadata: { name, namespace: 'ns', resourceVersion: rv } });
const line = (type: string, object: unknown) => `${JSON.stringify({ type, object })}\n`;
const poll = { timeout: 3000, interval: 20 };

describe('Informer (scripted apiserver on loopback)', () => {
  let server: Server;
  let kubeconfig: KubeConfig;
  /** Query of every watch request, in order. */
  let watches: URLSearchParams[];
  /** What the server does with the next watch requests; when empty, it holds the stream open silently. */
  let script: WatchStep[];
  const open = new Set<ServerResponse>();
  const informers: Informer<V1ConfigMap>[] = [];
  const log = createLogger({ component: 'test', destination: new PassThrough() });

  beforeEach(async () => {
    watches = [];
    script = [];
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.searchParams.get('watch') !== 'true') {
        res.writeHead(404).end();
        return;
      }
      watches.push(url.searchParams);
      req.on('error', () => {}); // the informer closing its watch resets the connection
      open.add(res);
      res.on('close', () => open.delete(res));
      const step = script.shift();
      if (step) step(res, url.searchParams);
      else res.writeHead(200, { 'content-type': 'application/json' }).flushHeaders();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    kubeconfig = new KubeConfig();
    kubeconfig.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
  });

  afterEach(async () => {
    for (const i of informers.splice(0)) i.stop();
    for (const r of open) r.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const make = (list: InformerOptions<V1ConfigMap>['list'], extra: Partial<InformerOptions<V1ConfigMap>> = {}) => {
    const inf = new Informer<V1ConfigMap>({ kubeconfig, path: '/api/v1/namespaces/ns/configmaps', list, log, backoff: { initialMs: 10_000, maxMs: 10_000 }, ...extra });
    informers.push(inf);
    return inf;
  };
  const fixedList = (rv: string, items: V1ConfigMap[] = []) => async (): Promise<KubernetesListObject<V1ConfigMap>> => ({ items, metadata: { resourceVersion: rv } });

  it('re-opens a watch that its idle timer ended at once, from the last resourceVersion, with no error and no relist', async () => {
    script.push((res) => {
      res.writeHead(200).write(line('ADDED', cm('a', '11')));
    });
    const inf = make(fixedList('10'), { watchIdleTimeoutMs: 200 });
    inf.start();
    await inf.synced();
    // A backoff (10 s here) would leave no watch running: the third request must come long before.
    await vi.waitFor(() => expect(watches.length).toBeGreaterThanOrEqual(3), poll);
    expect(watches.map((q) => q.get('resourceVersion'))).toEqual(['10', '11', '11', ...watches.slice(3).map(() => '11')]);
    expect(inf.stats.errors).toBe(0);
    expect(inf.stats.lists).toBe(1);
    expect(inf.get('ns/a')?.metadata?.resourceVersion).toBe('11');
  });

  it('asks for bookmarks and a server-side timeout, and resumes from a bookmark when the server ends the watch', async () => {
    script.push((res) => {
      res.writeHead(200).end(line('BOOKMARK', { kind: 'ConfigMap', metadata: { resourceVersion: '20' } }));
    });
    const inf = make(fixedList('10'), { watchTimeoutSeconds: 60 });
    inf.start();
    await vi.waitFor(() => expect(watches.length).toBe(2), poll);
    const first = watches[0]!;
    expect(first.get('allowWatchBookmarks')).toBe('true');
    const timeout = Number(first.get('timeoutSeconds'));
    expect(timeout).toBeGreaterThanOrEqual(60);
    expect(timeout).toBeLessThan(120);
    expect(watches[1]!.get('resourceVersion')).toBe('20');
    expect(inf.stats).toMatchObject({ errors: 0, lists: 1, bookmarks: 1 });
  });

  it('relists on 410 Gone and diffs the cache', async () => {
    script.push((res) => {
      res.writeHead(200).end(line('ERROR', { kind: 'Status', code: 410, message: 'too old resource version' }));
    });
    let lists = 0;
    const inf = make(async () => (++lists === 1 ? { items: [cm('a', '5'), cm('b', '6')], metadata: { resourceVersion: '10' } } : { items: [cm('a', '5'), cm('c', '30')], metadata: { resourceVersion: '30' } }));
    const seen: string[] = [];
    inf.on('add', (o) => seen.push(`add ${o.metadata?.name}`)).on('update', (o) => seen.push(`update ${o.metadata?.name}`)).on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    inf.start();
    await vi.waitFor(() => expect(watches.length).toBe(2), poll);
    expect(watches[1]!.get('resourceVersion')).toBe('30');
    expect(seen).toEqual(['add a', 'add b', 'add c', 'delete b']);
    expect(inf.stats.errors).toBe(0);
  });

  it('lists in pages (limit/continue) and watches from the resourceVersion of the list', async () => {
    const pages: ListPage[] = [];
    const all = Array.from({ length: 5 }, (_, i) => cm(`o${i}`, String(i + 1)));
    const inf = make(async (page) => {
      pages.push(page);
      const from = page._continue ? Number(page._continue) : 0;
      const next = from + page.limit;
      return { items: all.slice(from, next), metadata: { resourceVersion: '40', ...(next < all.length ? { _continue: String(next) } : {}) } };
    }, { pageSize: 2 });
    inf.start();
    await inf.synced();
    expect(pages).toEqual([{ limit: 2 }, { limit: 2, _continue: '2' }, { limit: 2, _continue: '4' }]);
    expect(inf.list().map((o) => o.metadata?.name).sort()).toEqual(['o0', 'o1', 'o2', 'o3', 'o4']);
    expect(inf.stats).toMatchObject({ lists: 1, pages: 3 });
    await vi.waitFor(() => expect(watches[0]?.get('resourceVersion')).toBe('40'), poll);
  });

  it('restarts a paged list whose continue token expired (410)', async () => {
    let calls = 0;
    const inf = make(async (page) => {
      calls++;
      if (page._continue && calls === 2) throw Object.assign(new Error('continue expired'), { code: 410 });
      return page._continue ? { items: [cm('b', '2')], metadata: { resourceVersion: '9' } } : { items: [cm('a', '1')], metadata: { resourceVersion: '9', _continue: 'x' } };
    }, { pageSize: 1 });
    inf.start();
    await inf.synced();
    expect(calls).toBe(4);
    expect(inf.list().map((o) => o.metadata?.name).sort()).toEqual(['a', 'b']);
    expect(inf.stats.errors).toBe(0);
  });

  it('an optional kind that is not served is synced and empty, and picked up when it appears', async () => {
    let served = false;
    const inf = make(async () => {
      if (!served) throw Object.assign(new Error('the server could not find the requested resource'), { code: 404 });
      return { items: [cm('gw', '3')], metadata: { resourceVersion: '3' } };
    }, { optional: true, missingRetryMs: 60_000 });
    const added: string[] = [];
    inf.on('add', (o) => added.push(o.metadata?.name ?? ''));
    inf.start();
    await inf.synced();
    expect(inf.state).toBe('missing');
    expect(inf.isSynced).toBe(true);
    expect(inf.list()).toEqual([]);
    served = true;
    inf.retryNow();
    await vi.waitFor(() => expect(inf.state).toBe('synced'), poll);
    expect(added).toEqual(['gw']);
    await vi.waitFor(() => expect(watches[0]?.get('resourceVersion')).toBe('3'), poll);
  });

  it('a kind that is required stays unsynced on 404 and counts the errors', async () => {
    const inf = make(async () => {
      throw Object.assign(new Error('not found'), { code: 404 });
    }, { backoff: { initialMs: 10, maxMs: 20 } });
    inf.start();
    await vi.waitFor(() => expect(inf.stats.errors).toBeGreaterThanOrEqual(3), poll);
    expect(inf.isSynced).toBe(false);
    expect(inf.state).toBe('syncing');
  });

  it('backs off on a real watch error and keeps watching afterwards', async () => {
    script.push((res) => {
      res.writeHead(500).end('boom');
    });
    const inf = make(fixedList('10'), { backoff: { initialMs: 50, maxMs: 50 } });
    inf.start();
    await vi.waitFor(() => expect(watches.length).toBe(2), poll);
    expect(inf.stats.errors).toBe(1);
    expect(watches[1]!.get('resourceVersion')).toBe('10');
  });
});
