// The capture checker must be able to fail: synthetic captures with TLS records split across
// segments (pass) and with plaintext or a lost segment (fail).
import { describe, expect, it } from 'vitest';
import { checkAllTls, readPcapTcp } from './pcap.ts';

function frame(seq: number, payload: Buffer, syn = false): Buffer {
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 20 + payload.length, 2);
  ip[9] = 6;
  Buffer.from([10, 244, 1, 2]).copy(ip, 12);
  Buffer.from([10, 244, 2, 3]).copy(ip, 16);
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(40000, 0);
  tcp.writeUInt16BE(15008, 2);
  tcp.writeUInt32BE(seq, 4);
  tcp[12] = 5 << 4;
  tcp[13] = syn ? 0x02 : 0x18;
  const eth = Buffer.alloc(14);
  eth.writeUInt16BE(0x0800, 12);
  return Buffer.concat([eth, ip, tcp, payload]);
}

function pcap(frames: Buffer[]): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(262144, 16);
  head.writeUInt32LE(1, 20);
  return Buffer.concat([head, ...frames.flatMap((f) => {
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(f.length, 8);
    rec.writeUInt32LE(f.length, 12);
    return [rec, f];
  })]);
}

const record = (type: number, body: Buffer) => Buffer.concat([Buffer.from([type, 3, 3, body.length >> 8, body.length & 0xff]), body]);

describe('pcap TLS check', () => {
  it('accepts TLS records split across segments and retransmitted', () => {
    const stream = Buffer.concat([record(22, Buffer.alloc(300, 1)), record(23, Buffer.alloc(50, 2))]);
    const segs = [frame(1000, Buffer.alloc(0), true), frame(1001, stream.subarray(0, 100)), frame(1101, stream.subarray(100)), frame(1001, stream.subarray(0, 100))];
    const r = checkAllTls(readPcapTcp(pcap(segs)));
    expect(r).toEqual({ streams: 1, bytes: stream.length, problems: [] });
  });

  it('flags plaintext and gaps', () => {
    const plain = checkAllTls(readPcapTcp(pcap([frame(1, Buffer.from('GET / HTTP/1.1\r\n\r\n'))])));
    expect(plain.problems[0]).toMatch(/10\.244\.1\.2:40000 → 10\.244\.2\.3:15008: byte 0 is not a TLS record header/);
    const tlsThenPlain = checkAllTls(readPcapTcp(pcap([frame(1, Buffer.concat([record(23, Buffer.alloc(10)), Buffer.from('secret!')]))])));
    expect(tlsThenPlain.problems[0]).toMatch(/byte 15 is not a TLS record header/);
    const gap = checkAllTls(readPcapTcp(pcap([frame(0, Buffer.alloc(0), true), frame(50, record(23, Buffer.alloc(5)))])));
    expect(gap.problems[0]).toMatch(/gap at byte 0/);
  });
});
