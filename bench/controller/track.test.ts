import { describe, expect, it } from 'vitest';
import { RoundTracker } from './track.ts';

const P = 'Kubernetes//Pod/bench/';

describe('RoundTracker', () => {
  it('measures each pod from Ready to its last ztunnel, first sightings only', () => {
    const t = new RoundTracker(['a', 'b'], ['node1', 'node2'], P);
    t.ready('a', 100);
    t.seen('node1', [`${P}a`], 150);
    expect(t.isComplete()).toBe(false);
    t.seen('node1', [`${P}a`], 900);
    t.seen('node2', [`${P}a`, `${P}b`], 220);
    t.ready('a', 500);
    expect(t.latencies()).toEqual([120]);
    t.seen('node1', [`${P}b`], 400);
    expect(t.isComplete()).toBe(false);
    t.ready('b', 300);
    expect(t.isComplete()).toBe(true);
    expect(t.latencies().sort((x, y) => x - y)).toEqual([100, 120]);
    expect(t.lastTimes()).toEqual({ ready: 300, allSeen: 400 });
  });

  it('ignores other pods and other namespaces, and keeps negative latencies (a ztunnel beat the watch)', () => {
    const t = new RoundTracker(['a'], ['z'], P);
    t.seen('z', [`${P}zz`, 'Kubernetes//Pod/other/a', `${P}a`], 50);
    t.ready('zz', 1);
    t.ready('a', 80);
    expect(t.latencies()).toEqual([-30]);
    expect(t.progress()).toEqual({ total: 1, ready: 1, seenBy: { z: 1 }, done: 1 });
    expect(() => t.seen('nope', [], 0)).toThrow(/unknown ztunnel/);
  });

  it('says what is missing', () => {
    const t = new RoundTracker(['a', 'b', 'c'], ['node1', 'node2'], P);
    t.ready('a', 1);
    t.seen('node1', [`${P}a`, `${P}b`], 2);
    t.seen('node2', [`${P}a`], 2);
    expect(t.progress()).toEqual({ total: 3, ready: 1, seenBy: { node1: 2, node2: 1 }, done: 1 });
    expect(t.missing()).toEqual(['b (no Ready, no ztunnel node2)', 'c (no Ready, no ztunnel node1, no ztunnel node2)']);
    expect(t.missing(1)).toHaveLength(1);
    expect(t.lastTimes()).toEqual({ ready: 1, allSeen: 2 });
  });
});
