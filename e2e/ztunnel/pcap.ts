// Reads a tcpdump capture (classic pcap, Ethernet, IPv4) into TCP segments and checks that every
// byte of every TCP stream in it is TLS records: the proof that nothing crossed the wire in clear.
// Streams are reassembled by sequence number, so a record split across segments still parses.

export interface TcpSegment {
  src: string;
  sport: number;
  dst: string;
  dport: number;
  seq: number;
  syn: boolean;
  payload: Buffer;
}

const PCAP_MAGIC_LE = 0xa1b2c3d4;
const PCAP_MAGIC_NS_LE = 0xa1b23c4d;
const LINKTYPE_ETHERNET = 1;

export function readPcapTcp(buf: Buffer): TcpSegment[] {
  if (buf.length < 24) return [];
  const magic = buf.readUInt32LE(0);
  if (magic !== PCAP_MAGIC_LE && magic !== PCAP_MAGIC_NS_LE) throw new Error(`not a little-endian pcap file (magic ${magic.toString(16)})`);
  const linktype = buf.readUInt32LE(20);
  if (linktype !== LINKTYPE_ETHERNET) throw new Error(`pcap link type ${linktype}: only Ethernet captures are read`);
  const out: TcpSegment[] = [];
  for (let off = 24; off + 16 <= buf.length; ) {
    const capLen = buf.readUInt32LE(off + 8);
    const frame = buf.subarray(off + 16, off + 16 + capLen);
    off += 16 + capLen;
    const seg = tcpOfFrame(frame);
    if (seg) out.push(seg);
  }
  return out;
}

function tcpOfFrame(f: Buffer): TcpSegment | undefined {
  let l3 = 14;
  let etherType = f.length >= 14 ? f.readUInt16BE(12) : 0;
  if (etherType === 0x8100 && f.length >= 18) {
    etherType = f.readUInt16BE(16);
    l3 = 18;
  }
  if (etherType !== 0x0800 || f.length < l3 + 20) return undefined;
  const ihl = (f[l3]! & 0x0f) * 4;
  if (f[l3 + 9] !== 6) return undefined;
  const totalLen = f.readUInt16BE(l3 + 2);
  const l4 = l3 + ihl;
  if (f.length < l4 + 20) return undefined;
  const dataOff = (f[l4 + 12]! >> 4) * 4;
  const ip = (o: number) => `${f[o]}.${f[o + 1]}.${f[o + 2]}.${f[o + 3]}`;
  return {
    src: ip(l3 + 12),
    dst: ip(l3 + 16),
    sport: f.readUInt16BE(l4),
    dport: f.readUInt16BE(l4 + 2),
    seq: f.readUInt32BE(l4 + 4),
    syn: (f[l4 + 13]! & 0x02) !== 0,
    payload: f.subarray(l4 + dataOff, Math.min(f.length, l3 + totalLen)),
  };
}

export interface TlsCheck {
  /** Directions of TCP streams that carried payload. */
  streams: number;
  /** Payload bytes in those streams. */
  bytes: number;
  /** Each byte range that is not a TLS record, as `src:port → dst:port: why`. */
  problems: string[];
}

const TLS_CONTENT_TYPES = new Set([20, 21, 22, 23]);

/** Reassembles each direction of each TCP stream and walks it as TLS records. */
export function checkAllTls(segments: TcpSegment[]): TlsCheck {
  const flows = new Map<string, { isn?: number; parts: Map<number, Buffer> }>();
  for (const s of segments) {
    const key = `${s.src}:${s.sport} → ${s.dst}:${s.dport}`;
    let flow = flows.get(key);
    if (!flow) flows.set(key, (flow = { parts: new Map() }));
    if (s.syn) flow.isn = s.seq;
    if (s.payload.length) flow.parts.set(s.seq, s.payload);
  }
  const result: TlsCheck = { streams: 0, bytes: 0, problems: [] };
  for (const [key, flow] of flows) {
    if (!flow.parts.size) continue;
    result.streams++;
    const base = flow.isn !== undefined ? flow.isn + 1 : Math.min(...flow.parts.keys());
    const ordered = [...flow.parts.entries()].map(([seq, p]) => ({ at: (seq - base) >>> 0, p })).sort((a, b) => a.at - b.at);
    const chunks: Buffer[] = [];
    let next = 0;
    for (const { at, p } of ordered) {
      if (at + p.length <= next) continue; // retransmission
      if (at > next) {
        result.problems.push(`${key}: gap at byte ${next} (capture lost packets)`);
        break;
      }
      chunks.push(p.subarray(next - at));
      next = at + p.length;
    }
    const stream = Buffer.concat(chunks);
    result.bytes += stream.length;
    for (let i = 0; i + 5 <= stream.length; ) {
      const type = stream[i]!;
      const major = stream[i + 1]!;
      const len = stream.readUInt16BE(i + 3);
      if (!TLS_CONTENT_TYPES.has(type) || major !== 3 || len > 16384 + 256) {
        result.problems.push(`${key}: byte ${i} is not a TLS record header (${stream.subarray(i, i + 5).toString('hex')})`);
        break;
      }
      i += 5 + len;
    }
  }
  return result;
}
