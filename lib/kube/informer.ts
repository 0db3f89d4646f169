// A list+watch cache of one Kubernetes resource, for every component that watches the apiserver:
// list in pages (limit/continue), then watch from that resourceVersion with bookmarks and a
// server-side timeout. A watch that ends (the server's timeout, the client's idle timer) is re-opened
// at once from the last resourceVersion seen, bookmarks included; 410 Gone (history compacted)
// relists and diffs the cache, so handlers see only real changes; only real errors back off
// (exponentially) and nothing stops the informer. An optional kind whose resource is not served
// (a CRD not installed: 404) counts as synced and empty, and is picked up when it appears.
import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../log/logger.ts';
import { openWatch, type OpenWatch } from './watch.ts';

export type InformerEvent = 'add' | 'update' | 'delete';

/** One page of a list call: pass both to the generated client (`limit`, `_continue`). */
export interface ListPage {
  limit: number;
  _continue?: string;
}

export interface InformerOptions<T extends KubernetesObject> {
  kubeconfig: KubeConfig;
  /** Collection path, e.g. `/api/v1/pods` or `/apis/security.istio.io/v1/authorizationpolicies`. */
  path: string;
  /** The list call for the same collection (with the same selectors), one page at a time. */
  list: (page: ListPage) => Promise<KubernetesListObject<T>>;
  fieldSelector?: string;
  labelSelector?: string;
  log: Logger;
  backoff?: { initialMs?: number; maxMs?: number };
  /** Items per list page (the apiserver's `limit`); 500 as client-go. */
  pageSize?: number;
  /** Server-side watch timeout: each watch asks for a random value in [this, 2×this) seconds (300 as client-go). */
  watchTimeoutSeconds?: number;
  /**
   * Our idle timer on a watch stream (90 s): a stream silent this long is presumed dead, closed and
   * re-opened. Longer than the apiserver's bookmark period (about a minute), so a healthy idle watch
   * is not cut.
   */
  watchIdleTimeoutMs?: number;
  /** The resource may not be served (a CRD not installed): a 404 leaves the cache empty but synced. */
  optional?: boolean;
  /** How often a missing optional kind is looked for again (besides `retryNow`). */
  missingRetryMs?: number;
}

export const objectKey = (o: KubernetesObject): string => (o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata.name ?? ''}` : (o.metadata?.name ?? ''));

interface WatchEventBody {
  code?: number;
  message?: string;
  metadata?: { resourceVersion?: string };
}

/** How one watch request ended, for the informer's loop. */
type WatchOutcome =
  | { kind: 'closed'; by: 'server' | 'idle-timer' | 'client' } // the server ended it (its timeout), our idle timer did, or stop()
  | { kind: 'gone' } // 410: our resourceVersion is too old, relist
  | { kind: 'not-found' } // 404: the resource is no longer served (CRD deleted)
  | { kind: 'error'; err: unknown };

export type InformerState = 'syncing' | 'synced' | 'missing';

const statusOf = (err: unknown): number | undefined => {
  const e = err as { statusCode?: number; code?: number } | null | undefined;
  return typeof e?.statusCode === 'number' ? e.statusCode : typeof e?.code === 'number' ? e.code : undefined;
};

export class Informer<T extends KubernetesObject> {
  private readonly o: InformerOptions<T>;
  private readonly cache = new Map<string, T>();
  private readonly handlers: Record<InformerEvent, ((obj: T, old?: T) => void)[]> = { add: [], update: [], delete: [] };
  private resourceVersion = '';
  private stopped = true;
  private active: OpenWatch | undefined;
  private syncedResolve!: () => void;
  private readonly syncedPromise = new Promise<void>((r) => (this.syncedResolve = r));
  private current: InformerState = 'syncing';
  private wake: (() => void) | undefined;
  private wakeRequested = false;
  /** Consecutive failed list/watch attempts: the backoff exponent; reset by any success. */
  private failures = 0;
  /** lists: complete lists; pages: list calls; watches: watch requests; reopened: watches that ended normally and were re-opened at once. */
  readonly stats = { lists: 0, pages: 0, watches: 0, reopened: 0, bookmarks: 0, errors: 0, events: 0 };

  constructor(o: InformerOptions<T>) {
    this.o = o;
  }

  get path(): string {
    return this.o.path;
  }

  on(event: InformerEvent, fn: (obj: T, old?: T) => void): this {
    this.handlers[event].push(fn);
    return this;
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  /** Resolves once the first list is in the cache (its add events delivered), or the optional kind is known to be missing. */
  synced(): Promise<void> {
    return this.syncedPromise;
  }

  /** The first list is done, or the (optional) kind is missing and the cache rightly empty. */
  get isSynced(): boolean {
    return this.current !== 'syncing';
  }

  /** An optional kind the apiserver does not serve (yet). */
  get isMissing(): boolean {
    return this.current === 'missing';
  }

  get state(): InformerState {
    return this.current;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.active?.abort();
    this.wake?.();
  }

  /** Ends a wait (backoff or a missing kind's retry) now: e.g. the CRD of a missing kind appeared. */
  retryNow(): void {
    if (this.wake) this.wake();
    else this.wakeRequested = true;
  }

  private emit(event: InformerEvent, obj: T, old?: T): void {
    for (const h of this.handlers[event]) {
      try {
        h(obj, old);
      } catch (err) {
        this.o.log.error({ path: this.o.path, event, key: objectKey(obj), err: (err as Error).message }, 'informer handler failed');
      }
    }
  }

  private markSynced(state: 'synced' | 'missing'): void {
    const was = this.current;
    this.current = state;
    if (was === 'syncing') this.syncedResolve();
    if (state === 'missing' && was !== 'missing') this.o.log.warn({ path: this.o.path }, 'resource not served (CRD not installed?): running without it until it appears');
    if (state === 'synced' && was === 'missing') this.o.log.info({ path: this.o.path }, 'resource is served now: picked up');
  }

  /** Every page of one consistent list; a continue token that expired (410) restarts it. */
  private async listAll(): Promise<{ items: T[]; resourceVersion: string }> {
    const limit = this.o.pageSize ?? 500;
    for (let attempt = 0; ; attempt++) {
      const items: T[] = [];
      let cont: string | undefined;
      let rv = '';
      try {
        do {
          const page = await this.o.list(cont ? { limit, _continue: cont } : { limit });
          this.stats.pages++;
          items.push(...page.items);
          rv = page.metadata?.resourceVersion ?? rv;
          cont = page.metadata?._continue || undefined;
        } while (cont);
        return { items, resourceVersion: rv };
      } catch (err) {
        if (cont && statusOf(err) === 410 && attempt < 3) continue;
        throw err;
      }
    }
  }

  /** Replaces the cache with a fresh list, emitting only the differences. */
  private async relist(): Promise<void> {
    const list = await this.listAll();
    this.stats.lists++;
    this.replace(list.items);
    this.resourceVersion = list.resourceVersion;
    this.markSynced('synced');
  }

  private replace(items: T[]): void {
    const seen = new Set<string>();
    for (const obj of items) {
      const key = objectKey(obj);
      seen.add(key);
      const old = this.cache.get(key);
      this.cache.set(key, obj);
      if (!old) this.emit('add', obj);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emit('update', obj, old);
    }
    for (const [key, old] of [...this.cache]) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.emit('delete', old);
      }
    }
  }

  /** Returns the 410/other status of an ERROR event, after recording it. */
  private onEvent(phase: string, obj: T & WatchEventBody): number | undefined {
    this.stats.events++;
    if (phase === 'ERROR') return obj.code ?? 500;
    const rv = obj.metadata?.resourceVersion;
    if (phase === 'BOOKMARK') {
      this.stats.bookmarks++;
      if (rv) this.resourceVersion = rv;
      return undefined;
    }
    const key = objectKey(obj);
    const old = this.cache.get(key);
    if (phase === 'DELETED') {
      this.cache.delete(key);
      this.emit('delete', obj);
    } else if (phase === 'ADDED' || phase === 'MODIFIED') {
      this.cache.set(key, obj);
      if (old) this.emit('update', obj, old);
      else this.emit('add', obj);
    }
    if (rv) this.resourceVersion = rv;
    return undefined;
  }

  /** One watch request from the current resourceVersion, until it ends. */
  private async watchOnce(): Promise<WatchOutcome> {
    const min = this.o.watchTimeoutSeconds ?? 300;
    const query: Record<string, string | boolean | number> = {
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: Math.floor(min * (1 + Math.random())),
    };
    if (this.o.fieldSelector) query.fieldSelector = this.o.fieldSelector;
    if (this.o.labelSelector) query.labelSelector = this.o.labelSelector;
    this.stats.watches++;
    let errorEvent: { code: number; message?: string } | undefined;
    const w = openWatch({
      kubeconfig: this.o.kubeconfig,
      path: this.o.path,
      query,
      ...(this.o.watchIdleTimeoutMs ? { idleTimeoutMs: this.o.watchIdleTimeoutMs } : {}),
      onEvent: (phase, obj) => {
        const code = this.onEvent(phase, obj as T & WatchEventBody);
        if (code !== undefined) errorEvent ??= { code, ...((obj as WatchEventBody).message ? { message: (obj as WatchEventBody).message } : {}) };
      },
    });
    this.active = w;
    if (this.stopped) w.abort();
    const end = await w.done;
    this.active = undefined;
    if (errorEvent?.code === 410) return { kind: 'gone' };
    if (errorEvent) return { kind: 'error', err: Object.assign(new Error(`watch error event ${errorEvent.code}: ${errorEvent.message ?? ''}`), { code: errorEvent.code }) };
    switch (end.kind) {
      case 'closed':
        return { kind: 'closed', by: end.by };
      case 'status':
        if (end.code === 410) return { kind: 'gone' };
        if (end.code === 404) return { kind: 'not-found' };
        return { kind: 'error', err: Object.assign(new Error(`watch: HTTP ${end.code} ${end.message}`), { statusCode: end.code }) };
      case 'error':
        return { kind: 'error', err: end.err };
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.wakeRequested) {
      this.wakeRequested = false;
      return Promise.resolve();
    }
    return new Promise((r) => {
      const t = setTimeout(r, ms);
      this.wake = () => {
        clearTimeout(t);
        r();
      };
    });
  }

  private async run(): Promise<void> {
    const initial = this.o.backoff?.initialMs ?? 500;
    const max = this.o.backoff?.maxMs ?? 30_000;
    const backoff = (n: number) => Math.min(initial * 2 ** (n - 1), max);
    let delay = 0;
    let quickCloses = 0;
    while (!this.stopped) {
      if (delay) await this.sleep(delay);
      this.wake = undefined;
      this.wakeRequested = false;
      if (this.stopped) break;
      try {
        if (!this.resourceVersion) {
          try {
            await this.relist();
            this.failures = 0;
          } catch (err) {
            if (!(this.o.optional && statusOf(err) === 404)) throw err;
            this.failures = 0;
            this.replace([]);
            this.markSynced('missing');
            delay = this.o.missingRetryMs ?? max;
            continue;
          }
        }
        const eventsBefore = this.stats.events;
        const started = Date.now();
        const end = await this.watchOnce();
        if (this.stopped) break;
        if (end.kind === 'gone') {
          this.resourceVersion = '';
          delay = 0;
        } else if (end.kind === 'not-found') {
          // The collection went away under the watch (CRD deleted): the relist finds out.
          this.resourceVersion = '';
          delay = initial;
        } else if (end.kind === 'error') {
          // A watch that delivered events worked: its failure starts the backoff over.
          if (this.stats.events > eventsBefore) this.failures = 0;
          throw end.err;
        } else {
          // A normal end: re-open at once from where we are. Only a server that closes every watch
          // instantly and silently is slowed down, so a broken proxy cannot make us spin.
          quickCloses = end.by === 'server' && this.stats.events === eventsBefore && Date.now() - started < 1000 ? quickCloses + 1 : 0;
          delay = quickCloses > 1 ? backoff(quickCloses - 1) : 0;
          if (!quickCloses) this.failures = 0;
          this.stats.reopened++;
          this.o.log.debug({ path: this.o.path, resourceVersion: this.resourceVersion }, 'watch ended; re-opened');
        }
      } catch (err) {
        this.stats.errors++;
        delay = backoff(++this.failures);
        this.o.log.warn({ path: this.o.path, err: (err as Error).message ?? String(err), retryMs: delay }, 'list/watch failed; retrying');
      }
    }
  }
}
