// V8's garbage-collection pauses as a Prometheus histogram, `nodejs_gc_duration_seconds{kind}` (the
// name and kinds of the Node.js client library's default collector), from Node's `gc` performance
// entries. A pause holds every connection of the process, so it is where a tail latency starts.
import { PerformanceObserver, constants } from 'node:perf_hooks';
import type { Registry } from './registry.ts';

/** Pauses from 0.1 ms (a small scavenge) to a second (a full collection of a large heap). */
const BUCKETS_S = [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** The `kind` label of each of Node's gc entry kinds. */
const KIND_LABELS: ReadonlyMap<number, { kind: string }> = new Map([
  [constants.NODE_PERFORMANCE_GC_MINOR, { kind: 'minor' }],
  [constants.NODE_PERFORMANCE_GC_MAJOR, { kind: 'major' }],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, { kind: 'incremental' }],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, { kind: 'weakcb' }],
]);

/** Observes every collection from now on into `registry`; returns what stops observing. */
export function registerGcMetrics(registry: Registry): () => void {
  const pauses = registry.histogram('nodejs_gc_duration_seconds', 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.', ['kind'], BUCKETS_S);
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = ((e as { detail?: unknown }).detail as { kind?: number } | undefined)?.kind;
      pauses.observe(KIND_LABELS.get(kind ?? -1) ?? { kind: 'other' }, e.duration / 1000);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
}
