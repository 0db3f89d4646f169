import { describe, expect, it } from 'vitest';
import { summarizeHeap } from './heap-summary.ts';

describe('heap snapshot summary', () => {
  it('sums self sizes by constructor for objects and by type otherwise', () => {
    const snapshot = {
      snapshot: { meta: { node_fields: ['type', 'name', 'id', 'self_size', 'edge_count'], node_types: [['hidden', 'array', 'string', 'object'] as string[]] as [string[]] } },
      // type, name, id, self_size, edge_count
      nodes: [3, 0, 1, 100, 0, 3, 0, 2, 50, 0, 3, 1, 3, 10, 0, 2, 2, 4, 30, 0],
      strings: ['Socket', 'Timeout', 'hello'],
    };
    const s = summarizeHeap(snapshot);
    expect(s.total).toBe(190);
    expect(s.groups).toEqual([
      { name: 'Socket', count: 2, bytes: 150 },
      { name: '(string)', count: 1, bytes: 30 },
      { name: 'Timeout', count: 1, bytes: 10 },
    ]);
  });
});
