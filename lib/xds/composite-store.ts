// Several ResourceStores behind one delta ADS server: each type URL is served by the one store that
// owns it (the controller's workload types by its model, the Envoy types of waypoints by theirs),
// and every store's change feed reaches the server. Owning a type twice is a wiring bug and throws.
import type { ResourceStore, XdsProxy } from './server.ts';
import type { XdsSnapshot } from './server-watch.ts';

export function compositeStore<C = unknown>(...stores: ResourceStore<C>[]): ResourceStore<C> {
  const owner = new Map<string, ResourceStore<C>>();
  for (const s of stores) {
    for (const t of s.typeUrls) {
      if (owner.has(t)) throw new TypeError(`compositeStore: ${t} is served by two stores`);
      owner.set(t, s);
    }
  }
  // Types of a store without version() get what the server would have used: a count of change batches.
  const batches = new Map<string, number>();
  const countBatches = (typeUrls: ReadonlySet<string>) => {
    for (const t of typeUrls) batches.set(t, (batches.get(t) ?? 0) + 1);
  };
  const hasVersions = stores.some((s) => s.version !== undefined);
  const store: ResourceStore<C> = {
    typeUrls: new Set(owner.keys()),
    snapshot(typeUrl: string, proxy: XdsProxy<C>): XdsSnapshot {
      const s = owner.get(typeUrl);
      if (!s) throw new Error(`compositeStore: no store serves ${typeUrl}`);
      return s.snapshot(typeUrl, proxy);
    },
    onChange(listener) {
      const offs = stores.map((s) =>
        s.onChange((typeUrls) => {
          if (hasVersions) countBatches(typeUrls);
          listener(typeUrls);
        }),
      );
      return () => {
        for (const off of offs) off();
      };
    },
  };
  if (hasVersions) {
    store.version = (typeUrl: string) => {
      const s = owner.get(typeUrl);
      return s?.version?.(typeUrl) ?? String(batches.get(typeUrl) ?? 0);
    };
  }
  return store;
}
