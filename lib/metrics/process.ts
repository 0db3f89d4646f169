// The process's own resources as Prometheus reports them for any process (`process_*`, the names of
// the client libraries' default collectors) and the Node.js heap (`nodejs_*`), read at each scrape,
// and V8's collection pauses.
import { readdirSync } from 'node:fs';
import { registerGcMetrics } from './gc.ts';
import type { Registry } from './registry.ts';

/**
 * Registers the process and heap gauges on `registry` (values are read when it renders) and the
 * garbage-collection pauses (lib/metrics/gc.ts), observed for the life of the process.
 */
export function registerProcessMetrics(registry: Registry): void {
  registerGcMetrics(registry);
  const rss = registry.gauge('process_resident_memory_bytes', 'Resident memory size in bytes.');
  const cpu = registry.counter('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.');
  const fds = registry.gauge('process_open_fds', 'Number of open file descriptors.');
  const start = registry.gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.');
  const heapTotal = registry.gauge('nodejs_heap_size_total_bytes', 'V8 heap size reserved, in bytes.');
  const heapUsed = registry.gauge('nodejs_heap_size_used_bytes', 'V8 heap size in use, in bytes.');
  const external = registry.gauge('nodejs_external_memory_bytes', 'Memory of C++ objects bound to JavaScript objects (Buffers included), in bytes.');
  const arrayBuffers = registry.gauge('nodejs_array_buffers_bytes', 'Memory of ArrayBuffers and Buffers, in bytes (part of external).');
  start.set({}, Math.floor(Date.now() / 1000 - process.uptime()));
  registry.onCollect(() => {
    const m = process.memoryUsage();
    rss.set({}, m.rss);
    heapTotal.set({}, m.heapTotal);
    heapUsed.set({}, m.heapUsed);
    external.set({}, m.external);
    arrayBuffers.set({}, m.arrayBuffers);
    const u = process.cpuUsage();
    cpu.inc({}, Math.max(0, (u.user + u.system) / 1e6 - cpu.get()));
    fds.set({}, openFds());
  });
}

function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return Number.NaN;
  }
}
