// The DNS wire format (RFC 1035) as far as the DNS proxy needs it: the header, questions and
// resource records, with A, AAAA and CNAME data decoded and everything else kept as raw bytes.
// Parsing never throws: a malformed message is a typed, path-prefixed error (names may use
// compression; pointers must point backwards, so they cannot loop). Serializing compresses names.
import { ipFromBytes } from '../../../lib/net/ip-bytes.ts';

export const RR_TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, ANY: 255 } as const;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export const CLASS_IN = 1;
export const OPCODE_QUERY = 0;
export const HEADER_BYTES = 12;
/** Largest UDP response to a client that sent no EDNS OPT record (RFC 1035 §4.2.1). */
export const CLASSIC_UDP_PAYLOAD = 512;

const MAX_LABEL = 63;
/** Of a name on the wire, length octets included. */
const MAX_NAME_WIRE = 255;
/** Compression pointers can only address the first 16 KiB of a message. */
const MAX_POINTER_OFFSET = 0x3fff;

export interface DnsHeader {
  id: number;
  /** true in responses. */
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  ad: boolean;
  cd: boolean;
  rcode: number;
}

/**
 * Names are dotted text without the final dot (the root is ''), in the case they arrived in. A label
 * byte that is not printable ASCII, or is '.' or '\', is written `\DDD` (decimal), as in zone files.
 */
export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

interface RecordBase {
  name: string;
  class: number;
  ttl: number;
}

export type DnsRecord =
  | (RecordBase & { kind: 'A'; address: string })
  | (RecordBase & { kind: 'AAAA'; address: string })
  | (RecordBase & { kind: 'CNAME'; target: string })
  /** Any other type, rdata as received (it may hold compression pointers into its own message). */
  | (RecordBase & { kind: 'raw'; type: number; data: Buffer });

export interface DnsMessage {
  header: DnsHeader;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

export type DnsFormatErrorCode =
  | 'DNS_SHORT_HEADER'
  | 'DNS_TRUNCATED'
  | 'DNS_BAD_LABEL'
  | 'DNS_NAME_TOO_LONG'
  | 'DNS_BAD_POINTER'
  | 'DNS_BAD_RDATA';

export class DnsFormatError extends Error {
  readonly code: DnsFormatErrorCode;
  /** Where in the message, e.g. `questions[0].name` or `answers[2].rdata`. */
  readonly path: string;

  constructor(code: DnsFormatErrorCode, path: string, detail: string) {
    super(`${path}: ${detail}`);
    this.name = 'DnsFormatError';
    this.code = code;
    this.path = path;
  }
}

export type ParseResult =
  | { ok: true; message: DnsMessage }
  /** `header` is set when the first 12 bytes were readable, so a FORMERR reply can carry the id. */
  | { ok: false; error: DnsFormatError; header?: DnsHeader };

/** Thrown inside the parser only; parseMessage turns it into a result. */
class Malformed {
  readonly code: DnsFormatErrorCode;
  readonly detail: string;
  constructor(code: DnsFormatErrorCode, detail: string) {
    this.code = code;
    this.detail = detail;
  }
}

export function parseHeader(buf: Buffer): DnsHeader | undefined {
  if (buf.length < HEADER_BYTES) return undefined;
  const flags = buf.readUInt16BE(2);
  return {
    id: buf.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    ad: (flags & 0x0020) !== 0,
    cd: (flags & 0x0010) !== 0,
    rcode: flags & 0xf,
  };
}

export function parseMessage(buf: Buffer): ParseResult {
  const header = parseHeader(buf);
  if (!header) {
    return { ok: false, error: new DnsFormatError('DNS_SHORT_HEADER', 'header', `${buf.length} bytes, need ${HEADER_BYTES}`) };
  }
  const counts = [4, 6, 8, 10].map((o) => buf.readUInt16BE(o)) as [number, number, number, number];
  const r = new Reader(buf);
  r.pos = HEADER_BYTES;
  let path = 'questions[0]';
  try {
    const questions: DnsQuestion[] = [];
    for (let i = 0; i < counts[0]; i++) {
      path = `questions[${i}].name`;
      const name = r.name();
      path = `questions[${i}]`;
      questions.push({ name, type: r.u16(), class: r.u16() });
    }
    const sections: DnsRecord[][] = [];
    for (const [s, label] of ['answers', 'authorities', 'additionals'].entries()) {
      const records: DnsRecord[] = [];
      for (let i = 0; i < counts[s + 1]!; i++) {
        path = `${label}[${i}].name`;
        const name = r.name();
        path = `${label}[${i}]`;
        const type = r.u16();
        const cls = r.u16();
        const ttl = r.u32();
        const len = r.u16();
        path = `${label}[${i}].rdata`;
        records.push(readRdata(r, { name, class: cls, ttl }, type, len));
      }
      sections.push(records);
    }
    return { ok: true, message: { header, questions, answers: sections[0]!, authorities: sections[1]!, additionals: sections[2]! } };
  } catch (err) {
    if (!(err instanceof Malformed)) throw err;
    return { ok: false, error: new DnsFormatError(err.code, path, err.detail), header };
  }
}

function readRdata(r: Reader, base: RecordBase, type: number, len: number): DnsRecord {
  const end = r.pos + len;
  if (end > r.buf.length) throw new Malformed('DNS_TRUNCATED', `rdata of ${len} bytes runs past the end of the message`);
  if (type === RR_TYPE.A || type === RR_TYPE.AAAA) {
    const want = type === RR_TYPE.A ? 4 : 16;
    if (len !== want) throw new Malformed('DNS_BAD_RDATA', `${type === RR_TYPE.A ? 'A' : 'AAAA'} rdata is ${len} bytes, not ${want}`);
    const bytes = r.buf.subarray(r.pos, end);
    r.pos = end;
    return type === RR_TYPE.A ? { ...base, kind: 'A', address: ipFromBytes(bytes)! } : { ...base, kind: 'AAAA', address: ipFromBytes(bytes)! };
  }
  if (type === RR_TYPE.CNAME) {
    const target = r.name();
    if (r.pos !== end) throw new Malformed('DNS_BAD_RDATA', `CNAME name does not fill its ${len}-byte rdata`);
    return { ...base, kind: 'CNAME', target };
  }
  const data = Buffer.from(r.buf.subarray(r.pos, end));
  r.pos = end;
  return { ...base, kind: 'raw', type, data };
}

class Reader {
  readonly buf: Buffer;
  pos = 0;

  constructor(buf: Buffer) {
    this.buf = buf;
  }

  u16(): number {
    if (this.pos + 2 > this.buf.length) throw new Malformed('DNS_TRUNCATED', 'message ends inside a field');
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    if (this.pos + 4 > this.buf.length) throw new Malformed('DNS_TRUNCATED', 'message ends inside a field');
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** A possibly compressed name; leaves pos after its in-place part. */
  name(): string {
    const labels: string[] = [];
    let wire = 1; // the root's zero octet
    let at = this.pos;
    let resumeAt = -1;
    // Each pointer must go strictly backwards from the previous one: that bounds the walk and
    // rules out loops without a visited set.
    let limit = at;
    for (;;) {
      if (at >= this.buf.length) throw new Malformed('DNS_TRUNCATED', 'message ends inside a name');
      const len = this.buf[at]!;
      if ((len & 0xc0) === 0xc0) {
        if (at + 1 >= this.buf.length) throw new Malformed('DNS_TRUNCATED', 'message ends inside a compression pointer');
        const target = ((len & 0x3f) << 8) | this.buf[at + 1]!;
        if (resumeAt < 0) resumeAt = at + 2;
        if (target >= limit) throw new Malformed('DNS_BAD_POINTER', `compression pointer to ${target} does not point backwards`);
        limit = target;
        at = target;
        continue;
      }
      if ((len & 0xc0) !== 0) throw new Malformed('DNS_BAD_LABEL', `unsupported label type 0x${(len & 0xc0).toString(16)}`);
      if (len === 0) {
        this.pos = resumeAt >= 0 ? resumeAt : at + 1;
        return labels.join('.');
      }
      if (at + 1 + len > this.buf.length) throw new Malformed('DNS_TRUNCATED', 'message ends inside a label');
      wire += len + 1;
      if (wire > MAX_NAME_WIRE) throw new Malformed('DNS_NAME_TOO_LONG', `name longer than ${MAX_NAME_WIRE} bytes`);
      labels.push(labelText(this.buf, at + 1, len));
      at += 1 + len;
    }
  }
}

function labelText(buf: Buffer, start: number, len: number): string {
  let out = '';
  for (let i = start; i < start + len; i++) {
    const b = buf[i]!;
    if (b > 0x20 && b < 0x7f && b !== 0x2e && b !== 0x5c) out += String.fromCharCode(b);
    else out += `\\${b.toString().padStart(3, '0')}`;
  }
  return out;
}

/** Wire labels of a text name; throws DnsFormatError for a name that cannot be encoded. */
export function nameToLabels(name: string, path = 'name'): Buffer[] {
  if (name === '' || name === '.') return [];
  const text = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  const labels: Buffer[] = [];
  let current: number[] = [];
  let wire = 1;
  const finish = (): void => {
    if (current.length === 0) throw new DnsFormatError('DNS_BAD_LABEL', path, `empty label in ${JSON.stringify(name)}`);
    if (current.length > MAX_LABEL) throw new DnsFormatError('DNS_BAD_LABEL', path, `label longer than ${MAX_LABEL} bytes`);
    wire += current.length + 1;
    labels.push(Buffer.from(current));
    current = [];
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      finish();
    } else if (c === 0x5c) {
      const digits = /^\d{3}/.exec(text.slice(i + 1, i + 4));
      if (digits && Number(digits[0]) <= 255) {
        current.push(Number(digits[0]));
        i += 3;
      } else if (i + 1 < text.length) {
        current.push(text.charCodeAt(++i) & 0xff);
      } else {
        throw new DnsFormatError('DNS_BAD_LABEL', path, 'name ends with a lone backslash');
      }
    } else if (c > 0x7f) {
      throw new DnsFormatError('DNS_BAD_LABEL', path, 'non-ASCII character (use punycode or \\DDD escapes)');
    } else {
      current.push(c);
    }
  }
  finish();
  if (wire > MAX_NAME_WIRE) throw new DnsFormatError('DNS_NAME_TOO_LONG', path, `name longer than ${MAX_NAME_WIRE} bytes`);
  return labels;
}

/** Case-insensitive (ASCII only, as RFC 4343 says) and ignoring a final dot. */
export function canonicalName(name: string): string {
  const lower = name.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return lower.endsWith('.') && !lower.endsWith('\\.') ? lower.slice(0, -1) : lower;
}

class Writer {
  buf = Buffer.alloc(512);
  pos = 0;
  /** canonical suffix → offset of its first label, for compression. */
  readonly names = new Map<string, number>();

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf.writeUInt8(v, this.pos);
    this.pos += 1;
  }

  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }

  bytes(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }

  name(name: string, path: string): void {
    const labels = nameToLabels(name, path);
    for (let i = 0; i < labels.length; i++) {
      // Length-prefixed (a label may hold any byte, NUL included) and ASCII-only case folding
      // (RFC 4343): 'Ï' and 'ï' are different names and must not be compressed into each other.
      const suffix = labels.slice(i).map((l) => String.fromCharCode(l.length) + l.toString('latin1').replace(/[A-Z]/g, (c) => c.toLowerCase())).join('');
      const at = this.names.get(suffix);
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.pos <= MAX_POINTER_OFFSET) this.names.set(suffix, this.pos);
      const label = labels[i]!;
      this.u8(label.length);
      this.bytes(label);
    }
    this.u8(0);
  }
}

function u16Checked(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`${what} must be a 16-bit unsigned integer, got ${v}`);
  return v;
}

/** Wire bytes of a message. Throws DnsFormatError for names that cannot be encoded (a caller bug). */
export function serializeMessage(m: DnsMessage): Buffer {
  const w = new Writer();
  const h = m.header;
  w.u16(u16Checked(h.id, 'header.id'));
  w.u16(
    (h.qr ? 0x8000 : 0) | ((h.opcode & 0xf) << 11) | (h.aa ? 0x0400 : 0) | (h.tc ? 0x0200 : 0) | (h.rd ? 0x0100 : 0) |
      (h.ra ? 0x0080 : 0) | (h.ad ? 0x0020 : 0) | (h.cd ? 0x0010 : 0) | (h.rcode & 0xf),
  );
  for (const [what, n] of [['questions', m.questions.length], ['answers', m.answers.length], ['authorities', m.authorities.length], ['additionals', m.additionals.length]] as const) {
    w.u16(u16Checked(n, `${what}.length`));
  }
  m.questions.forEach((q, i) => {
    w.name(q.name, `questions[${i}].name`);
    w.u16(u16Checked(q.type, `questions[${i}].type`));
    w.u16(u16Checked(q.class, `questions[${i}].class`));
  });
  for (const [label, records] of [['answers', m.answers], ['authorities', m.authorities], ['additionals', m.additionals]] as const) {
    records.forEach((r, i) => writeRecord(w, r, `${label}[${i}]`));
  }
  return Buffer.from(w.buf.subarray(0, w.pos));
}

function writeRecord(w: Writer, r: DnsRecord, path: string): void {
  w.name(r.name, `${path}.name`);
  const type = r.kind === 'A' ? RR_TYPE.A : r.kind === 'AAAA' ? RR_TYPE.AAAA : r.kind === 'CNAME' ? RR_TYPE.CNAME : r.type;
  w.u16(u16Checked(type, `${path}.type`));
  w.u16(u16Checked(r.class, `${path}.class`));
  w.u32(r.ttl);
  const lengthAt = w.pos;
  w.u16(0);
  const start = w.pos;
  if (r.kind === 'A') w.bytes(parseIpv4(r.address, `${path}.address`));
  else if (r.kind === 'AAAA') w.bytes(parseIpv6(r.address, `${path}.address`));
  else if (r.kind === 'CNAME') w.name(r.target, `${path}.target`);
  else w.bytes(r.data);
  w.buf.writeUInt16BE(u16Checked(w.pos - start, `${path}.rdata length`), lengthAt);
}

function parseIpv4(text: string, path: string): Buffer {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new DnsFormatError('DNS_BAD_RDATA', path, `not an IPv4 address: ${JSON.stringify(text)}`);
  }
  return Buffer.from(parts.map(Number));
}

function parseIpv6(text: string, path: string): Buffer {
  const bad = (): never => {
    throw new DnsFormatError('DNS_BAD_RDATA', path, `not an IPv6 address: ${JSON.stringify(text)}`);
  };
  let s = text;
  const tail: number[] = [];
  // An embedded IPv4 tail (::ffff:192.0.2.1) becomes the last two groups.
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const b = parseIpv4(v4[2]!, path);
    tail.push(b.readUInt16BE(0), b.readUInt16BE(2));
    s = v4[1]!.endsWith('::') ? v4[1]! : v4[1]!.slice(0, -1);
  }
  const halves = s.split('::');
  if (halves.length > 2) bad();
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => (/^[0-9a-fA-F]{1,4}$/.test(g) ? parseInt(g, 16) : bad())));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  const total = head.length + rest.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) bad();
  const all = [...head, ...new Array<number>(8 - total).fill(0), ...rest, ...tail];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}
