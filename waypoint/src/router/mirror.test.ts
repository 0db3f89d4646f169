import { describe, expect, it } from 'vitest';
import type { MirrorPolicy } from '../config/types.ts';
import { mirrorsToSend, shadowAuthority } from './mirror.ts';

const m = (cluster: string, perMillion: number): MirrorPolicy => ({ cluster, perMillion, traceSampled: false, disableShadowHostSuffix: false });

describe('mirrorsToSend', () => {
  it('draws each policy on its own', () => {
    const r = [0.1, 0.6];
    let i = 0;
    expect(mirrorsToSend([m('all', 1_000_000), m('half', 500_000), m('half2', 500_000), m('none', 0)], () => r[i++]!).map((x) => x.cluster)).toEqual(['all', 'half']);
    expect(mirrorsToSend(undefined)).toEqual([]);
  });
});

describe('shadowAuthority', () => {
  it.each<[string, string]>([
    ['reviews', 'reviews-shadow'],
    ['reviews:9080', 'reviews-shadow:9080'],
    ['10.0.0.1:80', '10.0.0.1-shadow:80'],
    ['[fd00::1]:80', '[fd00::1]-shadow:80'],
    ['', ''],
  ])('%s', (a, want) => {
    expect(shadowAuthority(a)).toBe(want);
  });
  it('keeps the authority when the suffix is disabled', () => {
    expect(shadowAuthority('reviews:9080', { disableShadowHostSuffix: true })).toBe('reviews:9080');
  });
});
