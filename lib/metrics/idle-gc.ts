// Gives a burst's garbage back once the process is quiet. V8 grows its heap during a burst of short
// connections (bench-l4's new-connection phase took ztunnel's heap from 31 to 170 MiB reserved, of
// which 14 MiB was live) and, with nothing left allocating, no collection comes to shrink it: V8's
// own memory reducer gave it back only a minute or more later. Every interval, when the event loop
// was nearly idle and the heap has grown well past its size after the last full collection, one
// full collection runs, of V8's memory-reducing kind. It holds the loop (55-57 ms on the bench
// host), which is why it waits for an idle loop.
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Logger } from '../log/logger.ts';
import type { Registry } from './registry.ts';

export interface IdleGcOptions {
  /** How often to look (default 2 s). */
  intervalMs?: number;
  /** Event-loop utilization over the last interval below which the process counts as idle (default 5 %). */
  maxUtilization?: number;
  /** Heap growth over its size after the last full collection that is worth one (default 16 MiB). */
  minGrowthBytes?: number;
  /** Runs right after each idle collection: ztunnel hands the C heap's free memory back (malloc_trim). */
  afterCollect?: () => void;
  log?: Logger;
  registry?: Registry;
}

/** What the loop reads and does; the defaults are the process's own (tests pass fakes). */
export interface IdleGcProbes {
  heapTotal(): number;
  /** Event-loop utilization (0..1) since the previous call. */
  utilization(): number;
  /** A full collection that also releases the freed pages. */
  gc(): void;
}

export interface IdleGc {
  /** One look (the timer calls it); true when it collected. */
  check(): boolean;
  stop(): void;
}

const MiB = 1024 * 1024;

/**
 * Starts the idle collector; undefined (and one log line) when this V8 cannot be asked for a full
 * collection.
 */
export function startIdleGc(opts: IdleGcOptions = {}, probes: IdleGcProbes | undefined = processProbes(opts.log)): IdleGc | undefined {
  if (!probes) return undefined;
  const maxUtilization = opts.maxUtilization ?? 0.05;
  const minGrowth = opts.minGrowthBytes ?? 16 * MiB;
  const collections = opts.registry?.counter('nodejs_idle_gc_total', 'Full collections run because the process was idle with a heap grown past its size after the last one.', []);
  const freed = opts.registry?.counter('nodejs_idle_gc_freed_bytes_total', 'Heap bytes the idle collections gave back.', []);
  const seconds = opts.registry?.counter('nodejs_idle_gc_seconds_total', 'Time the idle collections (and the malloc trim after them) held the event loop.', []);
  let baseline = probes.heapTotal();
  const check = (): boolean => {
    const busy = probes.utilization();
    const total = probes.heapTotal();
    baseline = Math.min(baseline, total); // V8 shrank it by itself
    if (busy >= maxUtilization || total - baseline < minGrowth) return false;
    const t0 = performance.now();
    probes.gc();
    opts.afterCollect?.();
    const after = probes.heapTotal();
    baseline = after;
    collections?.inc();
    const ms = performance.now() - t0;
    freed?.inc({}, Math.max(0, total - after));
    seconds?.inc({}, ms / 1000);
    opts.log?.debug({ heapBeforeMiB: Math.round(total / MiB), heapAfterMiB: Math.round(after / MiB), ms: Math.round(ms) }, 'idle full collection');
    return true;
  };
  const timer = setInterval(check, opts.intervalMs ?? 2000);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}

/** The running process: V8's heap size, event-loop utilization and, exposed at run time, its gc(). */
function processProbes(log: Logger | undefined): IdleGcProbes | undefined {
  let gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    try {
      // Node documents setting V8 flags after start-up as unsupported in general; --expose-gc is
      // the one commonly set this way, and a fresh context then sees the gc() it installs.
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc') as (() => void) | undefined;
    } catch {
      gc = undefined;
    }
  }
  if (typeof gc !== 'function') {
    log?.info('idle collections off: this runtime does not expose a full collection');
    return undefined;
  }
  const collect = gc;
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return {
    heapTotal: () => v8.getHeapStatistics().total_heap_size,
    utilization: () => {
      const now = performance.eventLoopUtilization();
      const u = performance.eventLoopUtilization(now, last).utilization;
      last = now;
      return u;
    },
    // A plain major collection frees the garbage but V8 keeps the pages (146 MiB reserved stayed
    // 139); the last-resort flavour collects all available garbage and releases them (146 -> 6),
    // as the collection before a heap snapshot does.
    gc: () => (collect as (o?: object) => void)({ type: 'major', execution: 'sync', flavor: 'last-resort' }),
  };
}
