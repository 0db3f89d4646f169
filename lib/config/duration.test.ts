import { describe, expect, it } from 'vitest';
import { parseDurationSeconds } from './duration.ts';

describe('parseDurationSeconds', () => {
  it.each([
    ['5', 5],
    ['2.5', 2.5],
    ['5s', 5],
    ['1h30m', 5400],
    ['250ms', 0.25],
    ['1500us', 0.0015],
    ['1500\u00b5s', 0.0015],
    ['.5s', 0.5],
    ['x', undefined],
    ['5 s', undefined],
    ['5d', undefined],
    ['', undefined],
  ])('%s → %s', (v, want) => {
    const got = parseDurationSeconds(v);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toBeCloseTo(want, 12);
  });
});
