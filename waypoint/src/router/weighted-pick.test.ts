import { describe, expect, it } from 'vitest';
import { weightedPick } from './weighted-pick.ts';

const items = [
  { name: 'a', weight: 1 },
  { name: 'b', weight: 3 },
  { name: 'c', weight: 0 },
];

describe('weightedPick', () => {
  it.each([
    [0, 'a'],
    [0.24, 'a'],
    [0.25, 'b'],
    [0.99, 'b'],
    [0.999999999, 'b'],
  ])('random %s → %s', (r, want) => expect(weightedPick(items, () => r)?.name).toBe(want));

  it('empty and single lists', () => {
    expect(weightedPick([], () => 0.5)).toBeUndefined();
    expect(weightedPick([{ weight: 0, name: 'x' }], () => 0.5)?.name).toBe('x');
  });

  it('all weights zero → uniform', () => {
    const z = [{ name: 'x', weight: 0 }, { name: 'y', weight: 0 }];
    expect(weightedPick(z, () => 0.7)?.name).toBe('y');
  });

  it('follows the weights over many draws', () => {
    let seed = 1;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const counts = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 10_000; i++) counts[weightedPick(items, rnd)!.name as 'a']++;
    expect(counts.c).toBe(0);
    expect(counts.b / counts.a).toBeGreaterThan(2.5);
    expect(counts.b / counts.a).toBeLessThan(3.5);
  });
});
