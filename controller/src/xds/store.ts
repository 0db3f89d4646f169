// The controller's one state store for workload xDS: the resource set built by the model from the
// informer caches, rebuilt (coalesced) after cluster changes, served to every ztunnel as is. A
// rebuild compares versions per type, so the delta server only hears about types that changed.
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from '../../../lib/proto/index.ts';
import type { ResourceStore, XdsSnapshot } from '../../../lib/xds/index.ts';
import { buildResourceSet, type ModelDiagnostic, type ModelSnapshot, type ModelOptions, type ResourceSet } from '../model/index.ts';

export const WORKLOAD_TYPE_URLS: ReadonlySet<string> = new Set([ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL]);

function sameVersions(a: ReadonlyMap<string, { version: string }> | undefined, b: ReadonlyMap<string, { version: string }> | undefined): boolean {
  if ((a?.size ?? 0) !== (b?.size ?? 0)) return false;
  for (const [name, e] of a ?? []) if (b?.get(name)?.version !== e.version) return false;
  return true;
}

export interface RebuildResult {
  changed: Set<string>;
  diagnostics: ModelDiagnostic[];
  durationMs: number;
  counts: Record<string, number>;
}

export class ModelStore implements ResourceStore {
  readonly typeUrls = WORKLOAD_TYPE_URLS;
  private current: ResourceSet = new Map();
  private readonly listeners = new Set<(typeUrls: ReadonlySet<string>) => void>();
  private readonly input: () => ModelSnapshot;
  private readonly options: ModelOptions;

  constructor(input: () => ModelSnapshot, options: ModelOptions) {
    this.input = input;
    this.options = options;
  }

  /** Rebuilds from the caches now; tells the server which types changed. */
  rebuild(): RebuildResult {
    const started = performance.now();
    const { resources, diagnostics } = buildResourceSet(this.input(), this.options);
    const changed = new Set<string>();
    for (const t of this.typeUrls) if (!sameVersions(this.current.get(t), resources.get(t))) changed.add(t);
    this.current = resources;
    if (changed.size) for (const l of this.listeners) l(changed);
    const counts = Object.fromEntries([...this.typeUrls].map((t) => [t, resources.get(t)?.size ?? 0]));
    return { changed, diagnostics, durationMs: performance.now() - started, counts };
  }

  snapshot(typeUrl: string): XdsSnapshot {
    return this.current.get(typeUrl) ?? new Map();
  }

  onChange(listener: (typeUrls: ReadonlySet<string>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
