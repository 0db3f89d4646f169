import { describe, expect, it } from 'vitest';
import { registerProcessMetrics } from './process.ts';
import { Registry } from './registry.ts';

const value = (text: string, name: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`${name} not rendered`);
  return Number(line.slice(name.length + 1));
};

describe('process metrics', () => {
  it('reads the process and heap figures at each render', () => {
    const r = new Registry();
    registerProcessMetrics(r);
    const first = r.render();
    expect(value(first, 'process_resident_memory_bytes')).toBeGreaterThan(1 << 20);
    expect(value(first, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(value(first, 'nodejs_heap_size_used_bytes')).toBeLessThanOrEqual(value(first, 'nodejs_heap_size_total_bytes'));
    expect(value(first, 'process_open_fds')).toBeGreaterThan(2);
    expect(value(first, 'process_start_time_seconds')).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    const held = Buffer.alloc(8 << 20, 1);
    const second = r.render();
    expect(value(second, 'nodejs_array_buffers_bytes')).toBeGreaterThanOrEqual(value(first, 'nodejs_array_buffers_bytes') + held.length);
    expect(value(second, 'process_cpu_seconds_total')).toBeGreaterThanOrEqual(value(first, 'process_cpu_seconds_total'));
  });
});
