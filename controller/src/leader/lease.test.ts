import { describe, expect, it } from 'vitest';
import { decide, observe, type LeaseObservation, type LeaseView } from './lease.ts';

// Our monotonic clock in ms; the Lease's renewTime is another replica's wall clock.
const t0 = 1_000_000;
const wall = new Date('2026-11-23T10:00:00Z');
const shifted = (s: number) => new Date(wall.getTime() + s * 1000);

describe('lease decision', () => {
  it.each([
    ['no lease', undefined, 0, { kind: 'acquire' }],
    ['a lease without holder', {}, 0, { kind: 'acquire' }],
    ['our own lease', { holder: 'me', renewTime: wall, durationSeconds: 15 }, 5, { kind: 'renew' }],
    ['our own lease unchanged for long', { holder: 'me', renewTime: wall, durationSeconds: 15 }, 60, { kind: 'renew' }],
    ['a lease of another seen changing 5 s ago', { holder: 'other', renewTime: wall, durationSeconds: 15 }, 5, { kind: 'wait', holder: 'other' }],
    ['a lease of another unchanged for 16 s', { holder: 'other', renewTime: wall, durationSeconds: 15 }, 16, { kind: 'acquire' }],
    ['a lease of another without duration uses the default', { holder: 'other', renewTime: wall }, 14, { kind: 'wait', holder: 'other' }],
  ] as const)('%s', (_n, lease, sinceObservedS, want) => {
    expect(decide(lease, 'me', t0, t0 + sinceObservedS * 1000, 15)).toEqual(want);
  });
});

/** Replays reads of the Lease (each at a monotonic time) through observe + decide, as the elector's loop does. */
function replay(reads: { atS: number; lease: LeaseView }[]): string[] {
  let obs: LeaseObservation | undefined;
  return reads.map(({ atS, lease }) => {
    const now = t0 + atS * 1000;
    obs = observe(obs, lease, now);
    return decide(lease, 'me', obs.atMs, now, 15).kind;
  });
}

describe('lease expiry under clock skew (observed-change time, not renewTime)', () => {
  it('a live leader whose clock is an hour behind keeps the lease: its renewals are seen changing', () => {
    // Its renewTime looks an hour old by our wall clock, but it renews every 2 s.
    const reads = Array.from({ length: 20 }, (_, i) => ({ atS: i * 2, lease: { holder: 'other', renewTime: shifted(-3600 + i * 2), durationSeconds: 15 } }));
    expect(new Set(replay(reads))).toEqual(new Set(['wait']));
  });

  it('a dead leader whose clock was an hour ahead loses the lease one duration after its last renewal was seen', () => {
    const stale = { holder: 'other', renewTime: shifted(3600), durationSeconds: 15 };
    const reads = [0, 2, 10, 14, 15, 16, 20].map((atS) => ({ atS, lease: stale }));
    expect(replay(reads)).toEqual(['wait', 'wait', 'wait', 'wait', 'wait', 'acquire', 'acquire']);
  });

  it('a change of holder or duration restarts the observed time', () => {
    const a = { holder: 'other', renewTime: wall, durationSeconds: 15 };
    const b = { holder: 'third', renewTime: wall, durationSeconds: 15 };
    expect(replay([{ atS: 0, lease: a }, { atS: 14, lease: a }, { atS: 14, lease: b }, { atS: 28, lease: b }, { atS: 30, lease: b }])).toEqual(['wait', 'wait', 'wait', 'wait', 'acquire']);
  });

  it('keeps the first observation while the record is unchanged', () => {
    const lease = { holder: 'other', renewTime: wall, durationSeconds: 15 };
    const first = observe(undefined, lease, t0);
    expect(observe(first, { ...lease, renewTime: new Date(wall) }, t0 + 9000)).toBe(first);
    expect(observe(first, { ...lease, renewTime: shifted(1) }, t0 + 9000).atMs).toBe(t0 + 9000);
  });
});
