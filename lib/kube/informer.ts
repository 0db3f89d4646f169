// A list+watch cache of one Kubernetes resource, for every component that watches the apiserver:
// list once, then watch from that resourceVersion with bookmarks; a watch that ends is resumed from
// the last version seen; 410 Gone (history compacted) relists and diffs the cache, so handlers see
// only real changes; errors back off exponentially and never stop the informer.
import { Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../log/logger.ts';

export type InformerEvent = 'add' | 'update' | 'delete';

export interface InformerOptions<T extends KubernetesObject> {
  kubeconfig: KubeConfig;
  /** Collection path, e.g. `/api/v1/pods` or `/apis/security.istio.io/v1/authorizationpolicies`. */
  path: string;
  /** The list call for the same collection (with the same selectors). */
  list: () => Promise<KubernetesListObject<T>>;
  fieldSelector?: string;
  labelSelector?: string;
  log: Logger;
  backoff?: { initialMs?: number; maxMs?: number };
}

export const objectKey = (o: KubernetesObject): string => (o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata.name ?? ''}` : (o.metadata?.name ?? ''));

interface WatchEventBody {
  code?: number;
  message?: string;
  metadata?: { resourceVersion?: string };
}

export class Informer<T extends KubernetesObject> {
  private readonly o: InformerOptions<T>;
  private readonly watch: Watch;
  private readonly cache = new Map<string, T>();
  private readonly handlers: Record<InformerEvent, ((obj: T, old?: T) => void)[]> = { add: [], update: [], delete: [] };
  private resourceVersion = '';
  private stopped = true;
  private abort: AbortController | undefined;
  private syncedResolve!: () => void;
  private readonly syncedPromise = new Promise<void>((r) => (this.syncedResolve = r));
  private hasSynced = false;
  private wake: (() => void) | undefined;
  readonly stats = { lists: 0, watches: 0, errors: 0, events: 0 };

  constructor(o: InformerOptions<T>) {
    this.o = o;
    this.watch = new Watch(o.kubeconfig);
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

  /** Resolves once the first list is in the cache (and its add events were delivered). */
  synced(): Promise<void> {
    return this.syncedPromise;
  }

  get isSynced(): boolean {
    return this.hasSynced;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
    this.wake?.();
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

  /** Replaces the cache with a fresh list, emitting only the differences. */
  private async relist(): Promise<void> {
    const list = await this.o.list();
    this.stats.lists++;
    const seen = new Set<string>();
    for (const obj of list.items) {
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
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
    if (!this.hasSynced) {
      this.hasSynced = true;
      this.syncedResolve();
    }
  }

  private onEvent(phase: string, obj: T & WatchEventBody): void {
    this.stats.events++;
    if (phase === 'ERROR') {
      if (obj.code === 410) this.resourceVersion = '';
      else this.o.log.warn({ path: this.o.path, code: obj.code, msg: obj.message }, 'watch error event');
      return;
    }
    const rv = obj.metadata?.resourceVersion;
    if (phase === 'BOOKMARK') {
      if (rv) this.resourceVersion = rv;
      return;
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
  }

  private sleep(ms: number): Promise<void> {
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
    let delay = 0;
    while (!this.stopped) {
      if (delay) await this.sleep(delay);
      if (this.stopped) break;
      try {
        if (!this.resourceVersion) await this.relist();
        const eventsBefore = this.stats.events;
        const started = Date.now();
        const err = await new Promise<unknown>((resolve) => {
          this.stats.watches++;
          const query: Record<string, string | boolean> = { resourceVersion: this.resourceVersion, allowWatchBookmarks: true };
          if (this.o.fieldSelector) query.fieldSelector = this.o.fieldSelector;
          if (this.o.labelSelector) query.labelSelector = this.o.labelSelector;
          this.watch.watch(this.o.path, query, (phase, obj: T & WatchEventBody) => this.onEvent(phase, obj), resolve).then(
            (ac) => {
              this.abort = ac;
              if (this.stopped) ac.abort();
            },
            resolve,
          );
        });
        if (this.stopped) break;
        const e = err as { statusCode?: number; code?: number; message?: string } | null | undefined;
        if (e && (e.statusCode === 410 || e.code === 410)) {
          this.resourceVersion = '';
          delay = 0;
        } else if (e) {
          throw e;
        } else {
          // The server ended the watch (timeout): resume at once, unless it ended instantly twice.
          delay = this.stats.events > eventsBefore || Date.now() - started > 1000 ? 0 : Math.max(initial, delay);
        }
        if (this.stats.events > eventsBefore) delay = 0;
      } catch (err) {
        this.stats.errors++;
        delay = Math.min(delay ? delay * 2 : initial, max);
        this.o.log.warn({ path: this.o.path, err: (err as Error).message ?? String(err), retryMs: delay }, 'list/watch failed; retrying');
      }
    }
  }
}
