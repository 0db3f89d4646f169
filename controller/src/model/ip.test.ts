// IP text ↔ wire bytes, with Go net/netip's strictness.
import { describe, expect, it } from 'vitest';
import { formatIp, parseIp, parseIpBlock } from './ip.ts';

const hex = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('hex'));

describe('parseIp', () => {
  it.each([
    ['10.244.1.5', '0af40105'],
    ['0.0.0.0', '00000000'],
    ['255.255.255.255', 'ffffffff'],
    ['::', '00000000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['fd00::5', 'fd000000000000000000000000000005'],
    ['2001:db8:0:1::1', '20010db8000000010000000000000001'],
    ['2001:DB8::', '20010db8000000000000000000000000'],
    ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
    ['::ffff:10.0.0.1', '00000000000000000000ffff0a000001'],
    ['64:ff9b::192.0.2.33', '0064ff9b0000000000000000c0000221'],
  ])('%s', (text, bytes) => {
    expect(hex(parseIp(text))).toBe(bytes);
  });

  it.each(['', '10.0.0', '10.0.0.1.2', '10.0.0.256', '010.0.0.1', '10.0.0.-1', ' 10.0.0.1', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', 'fe80::1%eth0', '::ffff:10.0.0.1:1', '1.2.3.4::', 'g::1', '1:2:3:4:5:6:7::8:9'])(
    'rejects %j',
    (text) => {
      expect(parseIp(text)).toBeUndefined();
    },
  );
});

describe('parseIpBlock', () => {
  it.each([
    ['1.2.3.4', '01020304', 32],
    ['5.6.0.0/16', '05060000', 16],
    // Not masked, as istiod sends it.
    ['10.0.0.7/24', '0a000007', 24],
    ['0.0.0.0/0', '00000000', 0],
    ['fd00::/8', 'fd000000000000000000000000000000', 8],
    ['::1', '00000000000000000000000000000001', 128],
  ])('%s', (text, bytes, length) => {
    const p = parseIpBlock(text);
    expect(hex(p?.address)).toBe(bytes);
    expect(p?.length).toBe(length);
  });

  it.each(['1.2.3.4/33', '::/129', '1.2.3.4/', '1.2.3.4/08', '1.2.3.4/a', 'x/8'])('rejects %j', (text) => {
    expect(parseIpBlock(text)).toBeUndefined();
  });
});

describe('formatIp', () => {
  it.each(['10.244.1.5', '::', '::1', 'fd00::5', '2001:db8:0:1::1', '2001:db8:1:0:1::1', '1:2:3:4:5:6:7:8', '::ffff:10.0.0.1', '1::', 'fd00:0:0:1::'])(
    'round-trips %s',
    (text) => {
      expect(formatIp(parseIp(text)!)).toBe(text);
    },
  );

  it('writes the canonical form', () => {
    expect(formatIp(parseIp('2001:0DB8:0000:0000:0000:0000:0000:0001')!)).toBe('2001:db8::1');
    expect(formatIp(parseIp('1:0:0:2:0:0:0:3')!)).toBe('1:0:0:2::3');
  });

  it('refuses other lengths', () => {
    expect(() => formatIp(new Uint8Array(5))).toThrow(RangeError);
  });
});
