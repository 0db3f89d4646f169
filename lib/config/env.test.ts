import { describe, expect, it } from 'vitest';
import { envAddress, envBool } from './env.ts';

describe('env settings', () => {
  const def = { host: '0.0.0.0', port: 15020 };
  it.each([
    [undefined, def],
    ['9000', { host: '0.0.0.0', port: 9000 }],
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
    ['[::1]:15000', { host: '::1', port: 15000 }],
  ])('reads %s as a listen address', (v, want) => {
    const errors: string[] = [];
    expect(envAddress(v, def, 'X', errors)).toEqual(want);
    expect(errors).toEqual([]);
  });

  it('names the variable of a bad value', () => {
    const errors: string[] = [];
    envAddress('host:99999', def, 'STATS_ADDR', errors);
    envBool('yes', false, 'NATIVE_NFTABLES', errors);
    expect(errors).toEqual(['STATS_ADDR: not a port or host:port: host:99999', 'NATIVE_NFTABLES: must be true or false, got yes']);
    expect(envBool('true', false, 'B', errors)).toBe(true);
    expect(envBool(undefined, true, 'B', errors)).toBe(true);
  });
});
