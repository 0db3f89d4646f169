import { describe, expect, it } from 'vitest';
import { registerGcMetrics } from './gc.ts';
import { Registry } from './registry.ts';

const count = (text: string, kind: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`nodejs_gc_duration_seconds_count{kind="${kind}"} `));
  return line ? Number(line.split(' ')[1]) : 0;
};

describe('GC metrics', () => {
  it('counts the scavenges that garbage causes, with their pauses in buckets', async () => {
    const r = new Registry();
    const stop = registerGcMetrics(r);
    try {
      const deadline = Date.now() + 10_000;
      let sink = 0;
      // Short-lived garbage until the observer has reported a minor collection (entries arrive a tick later).
      while (count(r.render(), 'minor') === 0) {
        if (Date.now() > deadline) throw new Error(`no minor collection observed:\n${r.render()}`);
        for (let i = 0; i < 200_000; i++) sink += [i, i + 1].length;
        await new Promise((res) => setImmediate(res));
      }
      expect(sink).toBeGreaterThan(0);
      const text = r.render();
      expect(text).toContain('# TYPE nodejs_gc_duration_seconds histogram');
      expect(text).toMatch(/^nodejs_gc_duration_seconds_bucket\{kind="minor",le="\+Inf"\} [1-9]/m);
      expect(Number(/^nodejs_gc_duration_seconds_sum\{kind="minor"\} (\S+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    } finally {
      stop();
    }
  });
});
