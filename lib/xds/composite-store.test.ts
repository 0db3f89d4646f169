// compositeStore: each type from its owner, every change feed through, versions routed.
import { describe, expect, it } from 'vitest';
import { compositeStore } from './composite-store.ts';
import type { ResourceStore, XdsProxy } from './server.ts';
import type { XdsSnapshot } from './server-watch.ts';

function store(types: string[], version?: string): ResourceStore & { fire(t: string): void } {
  const listeners = new Set<(t: ReadonlySet<string>) => void>();
  const s: ResourceStore & { fire(t: string): void } = {
    typeUrls: new Set(types),
    snapshot: (t): XdsSnapshot => new Map([[`${t}-res`, { version: 'v', resource: { typeUrl: t, value: new Uint8Array() } }]]),
    onChange(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    fire: (t) => {
      for (const l of listeners) l(new Set([t]));
    },
  };
  if (version) s.version = () => version;
  return s;
}

const proxy = {} as XdsProxy;

describe('compositeStore', () => {
  it('serves each type from its store and forwards every change feed', () => {
    const a = store(['A']);
    const b = store(['B', 'C']);
    const c = compositeStore(a, b);
    expect([...c.typeUrls]).toEqual(['A', 'B', 'C']);
    expect([...c.snapshot('C', proxy).keys()]).toEqual(['C-res']);
    expect(() => c.snapshot('D', proxy)).toThrow(/no store serves D/);
    const seen: string[] = [];
    const off = c.onChange((t) => seen.push(...t));
    a.fire('A');
    b.fire('B');
    off();
    a.fire('A');
    expect(seen).toEqual(['A', 'B']);
    expect(c.version).toBeUndefined();
  });

  it('routes versions, counting change batches for a store without them', () => {
    const a = store(['A'], 'seven');
    const b = store(['B']);
    const c = compositeStore(a, b);
    c.onChange(() => {});
    b.fire('B');
    b.fire('B');
    expect(c.version?.('A')).toBe('seven');
    expect(c.version?.('B')).toBe('2');
  });

  it('refuses two owners of one type', () => {
    expect(() => compositeStore(store(['A']), store(['A']))).toThrow(/served by two stores/);
  });
});
