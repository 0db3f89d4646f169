import { describe, expect, it } from 'vitest';
import { decide } from './lease.ts';

const now = new Date('2026-11-23T10:00:00Z');
const ago = (s: number) => new Date(now.getTime() - s * 1000);

describe('lease decision', () => {
  it.each([
    ['no lease', undefined, { kind: 'acquire' }],
    ['a lease without holder', {}, { kind: 'acquire' }],
    ['our own lease', { holder: 'me', renewTime: ago(5), durationSeconds: 15 }, { kind: 'renew' }],
    ['our own expired lease', { holder: 'me', renewTime: ago(60), durationSeconds: 15 }, { kind: 'renew' }],
    ['a live lease of another', { holder: 'other', renewTime: ago(5), durationSeconds: 15 }, { kind: 'wait', holder: 'other' }],
    ['an expired lease of another', { holder: 'other', renewTime: ago(16), durationSeconds: 15 }, { kind: 'acquire' }],
    ['another lease with no renew time', { holder: 'other' }, { kind: 'acquire' }],
  ] as const)('%s', (_n, lease, want) => {
    expect(decide(lease, 'me', now, 15)).toEqual(want);
  });
});
