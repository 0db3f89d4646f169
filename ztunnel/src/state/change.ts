// What one committed batch of ProxyState writes did: per resource kind, the keys that were added,
// changed or removed (net over the batch, compared by value), and the values they had before, so a
// listener can tell where a removed policy used to apply. Built by ChangeRecorder as writes happen.
import { isDeepStrictEqual } from 'node:util';
import type { Policy, Service, Workload } from './types.ts';

export interface KeyChanges {
  readonly added: ReadonlySet<string>;
  readonly changed: ReadonlySet<string>;
  readonly removed: ReadonlySet<string>;
}

export interface StateChange {
  /** Workload uids. */
  readonly workloads: KeyChanges;
  /** Service keys (`<namespace>/<hostname>`). */
  readonly services: KeyChanges;
  /** Policy keys (`<namespace>/<name>`). */
  readonly policies: KeyChanges;
  /** Values held before the batch, for every changed or removed key. */
  readonly previous: {
    readonly workloads: ReadonlyMap<string, Workload>;
    readonly services: ReadonlyMap<string, Service>;
    readonly policies: ReadonlyMap<string, Policy>;
  };
}

/** Every key a batch touched: added, changed or removed. */
export function touchedKeys(k: KeyChanges): string[] {
  return [...k.added, ...k.changed, ...k.removed];
}

export function hasChanges(k: KeyChanges): boolean {
  return k.added.size + k.changed.size + k.removed.size > 0;
}

export function isEmptyChange(c: StateChange): boolean {
  return !hasChanges(c.workloads) && !hasChanges(c.services) && !hasChanges(c.policies);
}

interface Diffed<T> {
  keys: KeyChanges;
  previous: Map<string, T>;
}

/** Before-values (at first touch) of one resource kind; `undefined` records "was absent". */
class KindRecorder<T> {
  private readonly before = new Map<string, T | undefined>();

  touch(key: string, held: T | undefined): void {
    if (!this.before.has(key)) this.before.set(key, held);
  }

  /** Each touched key with the value it had before its first write (undefined: it was absent). */
  touched(): IterableIterator<[string, T | undefined]> {
    return this.before.entries();
  }

  diff(current: (key: string) => T | undefined): Diffed<T> {
    const added = new Set<string>();
    const changed = new Set<string>();
    const removed = new Set<string>();
    const previous = new Map<string, T>();
    for (const [key, was] of this.before) {
      const now = current(key);
      if (was === undefined) {
        if (now !== undefined) added.add(key);
      } else if (now === undefined) {
        removed.add(key);
        previous.set(key, was);
      } else if (now !== was && !isDeepStrictEqual(now, was)) {
        changed.add(key);
        previous.set(key, was);
      }
    }
    return { keys: { added, changed, removed }, previous };
  }
}

/** The writes of one open batch. */
export class ChangeRecorder {
  readonly workloads = new KindRecorder<Workload>();
  readonly services = new KindRecorder<Service>();
  readonly policies = new KindRecorder<Policy>();

  finish(current: {
    workload: (uid: string) => Workload | undefined;
    service: (key: string) => Service | undefined;
    policy: (key: string) => Policy | undefined;
  }): StateChange {
    const w = this.workloads.diff(current.workload);
    const s = this.services.diff(current.service);
    const p = this.policies.diff(current.policy);
    return { workloads: w.keys, services: s.keys, policies: p.keys, previous: { workloads: w.previous, services: s.previous, policies: p.previous } };
  }
}
