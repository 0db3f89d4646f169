// The controller's one state store for workload xDS: the resource set the incremental model keeps
// from the informer caches, served to every ztunnel as is. Startup (and any explicit resync) is a
// full rebuild from a snapshot of the caches; after that each batch of informer events rebuilds only
// the resources it touches. Either way the delta server hears which types changed, and listeners
// that want it hear which names (added or changed, removed); unchanged resources keep their entry
// and version.
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from '../../../lib/proto/index.ts';
import type { ResourceStore, XdsSnapshot } from '../../../lib/xds/index.ts';
import {
  IncrementalModel,
  type BuildCounts,
  type ModelChange,
  type ModelDiagnostic,
  type ModelOptions,
  type ModelSnapshot,
  type ResourceChanges,
} from '../model/index.ts';

export const WORKLOAD_TYPE_URLS: ReadonlySet<string> = new Set([ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL]);

const EMPTY: XdsSnapshot = new Map();

export interface RebuildResult {
  /** `full`: from a snapshot of every cache; `incremental`: from a batch of informer events. */
  kind: 'full' | 'incremental';
  /** Type URLs with a resource added, changed or removed. */
  changed: Set<string>;
  /** Per type URL, the names added or changed and the names removed. */
  changedNames: ResourceChanges;
  /** Builder calls made (workloads, services, policies converted). */
  built: BuildCounts;
  /** After a full rebuild every current diagnostic; after an incremental one those of the objects rebuilt. */
  diagnostics: ModelDiagnostic[];
  durationMs: number;
  counts: Record<string, number>;
}

export class ModelStore implements ResourceStore {
  readonly typeUrls = WORKLOAD_TYPE_URLS;
  readonly #model: IncrementalModel;
  readonly #listeners = new Set<(typeUrls: ReadonlySet<string>) => void>();
  readonly #nameListeners = new Set<(changes: ResourceChanges) => void>();
  readonly #input: () => ModelSnapshot;

  constructor(input: () => ModelSnapshot, options: ModelOptions) {
    this.#input = input;
    this.#model = new IncrementalModel(options);
  }

  /** Rebuilds everything from the caches now (startup, resync); tells the server which types changed. */
  rebuild(): RebuildResult {
    const started = performance.now();
    const u = this.#model.reset(this.#input());
    return this.#publish('full', u, started);
  }

  /** Applies a batch of informer events, rebuilding only what they touch. */
  apply(changes: Iterable<ModelChange>): RebuildResult {
    const started = performance.now();
    const u = this.#model.apply(changes);
    return this.#publish('incremental', u, started);
  }

  #publish(kind: RebuildResult['kind'], u: ReturnType<IncrementalModel['apply']>, started: number): RebuildResult {
    const changed = new Set<string>();
    for (const [t, c] of u.changes) if (c.updated.size || c.removed.size) changed.add(t);
    if (changed.size) {
      for (const l of this.#nameListeners) l(u.changes);
      for (const l of this.#listeners) l(changed);
    }
    const resources = this.#model.resources;
    const counts = Object.fromEntries([...this.typeUrls].map((t) => [t, resources.get(t)?.size ?? 0]));
    return { kind, changed, changedNames: u.changes, built: u.built, diagnostics: u.diagnostics, durationMs: performance.now() - started, counts };
  }

  /** The live set of one type (changed in place by later rebuilds; read it synchronously). */
  snapshot(typeUrl: string): XdsSnapshot {
    return this.#model.resources.get(typeUrl) ?? EMPTY;
  }

  onChange(listener: (typeUrls: ReadonlySet<string>) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Like onChange, with the names that changed per type (called before the onChange listeners). */
  onResourceChange(listener: (changes: ResourceChanges) => void): () => void {
    this.#nameListeners.add(listener);
    return () => this.#nameListeners.delete(listener);
  }
}
