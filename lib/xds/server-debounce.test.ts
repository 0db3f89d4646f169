// The push debouncer on fake timers: a quiet period ends a batch, a steady trickle is cut at the
// maximum delay, type URLs are unioned, close() drops what waits.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChangeDebouncer } from './server-debounce.ts';

describe('ChangeDebouncer', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function recorder(): { flushes: { types: string[]; since: number; at: number }[]; fn: (t: ReadonlySet<string>, since: number) => void } {
    const flushes: { types: string[]; since: number; at: number }[] = [];
    return { flushes, fn: (t, since) => flushes.push({ types: [...t].sort(), since, at: Date.now() }) };
  }

  it('flushes once the changes stop for debounceMs, with every type and the first change time', () => {
    const r = recorder();
    const d = new ChangeDebouncer({ debounceMs: 100, maxDelayMs: 1000 }, r.fn);
    d.add(['a']);
    vi.advanceTimersByTime(60);
    d.add(['b', 'a']);
    vi.advanceTimersByTime(99);
    expect(r.flushes).toEqual([]);
    expect(d.pending).toBe(true);
    vi.advanceTimersByTime(1);
    expect(r.flushes).toEqual([{ types: ['a', 'b'], since: 1_000_000, at: 1_000_160 }]);
    expect(d.pending).toBe(false);
  });

  it('a steady trickle is flushed at maxDelayMs, then a new batch starts', () => {
    const r = recorder();
    const d = new ChangeDebouncer({ debounceMs: 100, maxDelayMs: 300 }, r.fn);
    for (let i = 0; i < 10; i++) {
      d.add(['a']);
      vi.advanceTimersByTime(50);
    }
    expect(r.flushes.map((f) => f.at - 1_000_000)).toEqual([300]);
    vi.advanceTimersByTime(100);
    expect(r.flushes).toHaveLength(2);
    // The change made right after the cut (t=300) opened the second batch.
    expect(r.flushes[1]!.since).toBe(1_000_300);
  });

  it('debounceMs 0 still coalesces changes made in the same turn', () => {
    const r = recorder();
    const d = new ChangeDebouncer({ debounceMs: 0, maxDelayMs: 0 }, r.fn);
    for (let i = 0; i < 50; i++) d.add(['a']);
    vi.advanceTimersByTime(0);
    expect(r.flushes).toHaveLength(1);
  });

  it('an empty change is no change', () => {
    const r = recorder();
    const d = new ChangeDebouncer({}, r.fn);
    d.add([]);
    expect(d.pending).toBe(false);
  });

  it('close() drops the waiting batch and ignores later changes', () => {
    const r = recorder();
    const d = new ChangeDebouncer({}, r.fn);
    d.add(['a']);
    d.close();
    d.add(['b']);
    vi.advanceTimersByTime(5_000);
    expect(r.flushes).toEqual([]);
  });

  it('refuses inconsistent options', () => {
    expect(() => new ChangeDebouncer({ debounceMs: -1 }, () => {})).toThrow(RangeError);
    expect(() => new ChangeDebouncer({ debounceMs: 200, maxDelayMs: 100 }, () => {})).toThrow(/debounceMs <= maxDelayMs/);
  });
});
