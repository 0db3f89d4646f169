import { describe, expect, it } from 'vitest';
import { summarizeProfile } from './profile-summary.ts';

describe('summarizeProfile', () => {
  it('adds self time per function and module, idle and GC apart', () => {
    const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });
    const s = summarizeProfile({
      nodes: [
        { id: 1, callFrame: frame('(idle)') },
        { id: 2, callFrame: frame('onDataA', 'file:///work/main/lib/hbone/copy.ts', 97) },
        { id: 3, callFrame: frame('(garbage collector)') },
        { id: 4, callFrame: frame('write', 'node:internal/stream_base_commons', 10) },
      ],
      samples: [1, 2, 2, 3, 4],
      timeDeltas: [1000, 2000, 2000, 500, 1500],
    }, 10);
    expect(s.totalMs).toBe(7);
    expect(s.idleMs).toBe(1);
    expect(s.gcMs).toBe(0.5);
    expect(s.byFunction[0]).toEqual({ name: 'onDataA copy.ts:98', ms: 4 });
    expect(s.byModule.map((m) => m.name)).toEqual(['lib/hbone/copy.ts', 'node:internal/stream_base_commons', '(garbage collector)']);
  });
});
