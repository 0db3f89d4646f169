// The DNS codec: round trips, compression both ways, escapes, and every malformed shape giving a
// typed error with a path (never a throw), including random and mutated input.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  canonicalName,
  CLASS_IN,
  DnsFormatError,
  parseMessage,
  RR_TYPE,
  serializeMessage,
  type DnsFormatErrorCode,
  type DnsHeader,
  type DnsMessage,
} from './message.ts';

const header = (p: Partial<DnsHeader> = {}): DnsHeader => ({
  id: 0x1234, qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0, ...p,
});
const message = (p: Partial<DnsMessage> = {}): DnsMessage => ({ header: header(), questions: [], answers: [], authorities: [], additionals: [], ...p });

function parsed(buf: Buffer): DnsMessage {
  const r = parseMessage(buf);
  if (!r.ok) throw r.error;
  return r.message;
}

/** Hand-built wire bytes: a 12-byte header with the given counts, then `body`. */
function wire(counts: [number, number, number, number], ...body: (number[] | Buffer)[]): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(0xbeef, 0);
  h.writeUInt16BE(0x0100, 2);
  counts.forEach((c, i) => h.writeUInt16BE(c, 4 + i * 2));
  return Buffer.concat([h, ...body.map((b) => Buffer.from(b))]);
}
const label = (s: string): number[] => [s.length, ...Buffer.from(s)];
const name = (...labels: string[]): number[] => [...labels.flatMap(label), 0];
const u16 = (v: number): number[] => [v >> 8, v & 0xff];
const u32 = (v: number): number[] => [...u16(v >>> 16), ...u16(v & 0xffff)];

describe('DNS message codec', () => {
  it('round-trips a query with every header flag', () => {
    for (const flag of ['qr', 'aa', 'tc', 'rd', 'ra', 'ad', 'cd'] as const) {
      const m = message({ header: header({ rd: false, [flag]: true, opcode: 2, rcode: 5 }), questions: [{ name: 'Foo.Example.com', type: RR_TYPE.AAAA, class: CLASS_IN }] });
      expect(parsed(serializeMessage(m))).toEqual(m);
    }
  });

  it('round-trips A, AAAA, CNAME and raw records in all sections', () => {
    const m = message({
      header: header({ qr: true, aa: true }),
      questions: [{ name: 'web.default.svc.cluster.local', type: RR_TYPE.A, class: CLASS_IN }],
      answers: [
        { kind: 'CNAME', name: 'web.default.svc.cluster.local', class: CLASS_IN, ttl: 30, target: 'web.prod.svc.cluster.local' },
        { kind: 'A', name: 'web.prod.svc.cluster.local', class: CLASS_IN, ttl: 30, address: '10.96.0.7' },
        { kind: 'AAAA', name: 'web.prod.svc.cluster.local', class: CLASS_IN, ttl: 0xffffffff, address: '2001:db8::1:0:0:1' },
      ],
      authorities: [{ kind: 'raw', name: 'cluster.local', type: RR_TYPE.TXT, class: CLASS_IN, ttl: 5, data: Buffer.from([3, 0x61, 0x62, 0x63]) }],
      additionals: [{ kind: 'raw', name: '', type: RR_TYPE.OPT, class: 1232, ttl: 0, data: Buffer.alloc(0) }],
    });
    expect(parsed(serializeMessage(m))).toEqual(m);
  });

  it.each([
    ['2001:db8::1', '2001:db8::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80:0:0:0:0:0:0:1', 'fe80::1'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['2001:DB8:0:1::', '2001:db8:0:1::'],
  ])('writes AAAA %s and reads it back as %s', (given, back) => {
    const m = message({ answers: [{ kind: 'AAAA', name: 'x', class: CLASS_IN, ttl: 1, address: given }] });
    const r = parsed(serializeMessage(m)).answers[0];
    expect(r).toMatchObject({ kind: 'AAAA', address: back });
  });

  it('compresses repeated names when writing', () => {
    const q = 'a-rather-long-service-name.some-namespace.svc.cluster.local';
    const answers = ['10.0.0.1', '10.0.0.2', '10.0.0.3'].map((address) => ({ kind: 'A' as const, name: q, class: CLASS_IN, ttl: 30, address }));
    const buf = serializeMessage(message({ questions: [{ name: q, type: RR_TYPE.A, class: CLASS_IN }], answers }));
    // header + question (name + 4) + three answers of pointer(2) + type/class/ttl/len(10) + 4.
    expect(buf.length).toBe(12 + (q.length + 2) + 4 + 3 * (2 + 10 + 4));
    expect(parsed(buf).answers).toEqual(answers);
  });

  it('compresses a CNAME target against the question, case-insensitively', () => {
    const m = message({
      questions: [{ name: 'WEB.prod.svc.cluster.local', type: RR_TYPE.A, class: CLASS_IN }],
      answers: [{ kind: 'CNAME', name: 'web', class: CLASS_IN, ttl: 1, target: 'api.prod.svc.cluster.local' }],
    });
    const buf = serializeMessage(m);
    // The target is the label `api` plus a pointer: 4 + 2 bytes of rdata.
    expect(buf.readUInt16BE(buf.length - 8)).toBe(6);
    expect(parsed(buf)).toEqual(m);
  });

  it('reads compression pointers, including chains that point ever further back', () => {
    // question: foo.example.com at 12; answer 1 owner: pointer to 12; CNAME target: "bar" + pointer
    // to example.com (16); answer 2 owner: pointer to the target (chain of two pointers).
    const body = [
      ...name('foo', 'example', 'com'), ...u16(1), ...u16(1),
      0xc0, 12, ...u16(5), ...u16(1), ...u32(60), ...u16(6), ...label('bar'), 0xc0, 16,
    ];
    const targetAt = 12 + body.length - 6;
    const buf = wire([1, 2, 0, 0], body, [0xc0, targetAt, ...u16(1), ...u16(1), ...u32(60), ...u16(4), 192, 0, 2, 9]);
    const m = parsed(buf);
    expect(m.questions).toEqual([{ name: 'foo.example.com', type: 1, class: 1 }]);
    expect(m.answers).toEqual([
      { kind: 'CNAME', name: 'foo.example.com', class: 1, ttl: 60, target: 'bar.example.com' },
      { kind: 'A', name: 'bar.example.com', class: 1, ttl: 60, address: '192.0.2.9' },
    ]);
  });

  it('escapes label bytes that are not plain text, and writes them back unchanged', () => {
    const buf = wire([1, 0, 0, 0], [4, 0x61, 0x2e, 0x20, 0x5c, 3, 0x63, 0xff, 0x00, 0], u16(1), u16(1));
    const m = parsed(buf);
    expect(m.questions[0]?.name).toBe('a\\046\\032\\092.c\\255\\000');
    expect(serializeMessage(m)).toEqual(buf);
  });

  it('treats the root name as the empty string', () => {
    const m = message({ questions: [{ name: '', type: RR_TYPE.ANY, class: CLASS_IN }] });
    const buf = serializeMessage(m);
    expect(buf.length).toBe(12 + 1 + 4);
    expect(parsed(buf)).toEqual(m);
  });

  it('compares names case-insensitively and without the final dot', () => {
    expect(canonicalName('Web.Default.SVC.cluster.local.')).toBe('web.default.svc.cluster.local');
    expect(canonicalName('a\\.')).toBe('a\\.');
  });

  it('ignores bytes after the last record', () => {
    const buf = Buffer.concat([serializeMessage(message({ questions: [{ name: 'a', type: 1, class: 1 }] })), Buffer.from([1, 2, 3])]);
    expect(parsed(buf).questions).toHaveLength(1);
  });

  const long = Array.from({ length: 5 }, () => 'x'.repeat(50));
  it.each<[string, Buffer, DnsFormatErrorCode, string]>([
    ['an empty datagram', Buffer.alloc(0), 'DNS_SHORT_HEADER', 'header'],
    ['11 bytes', Buffer.alloc(11), 'DNS_SHORT_HEADER', 'header'],
    ['a question count with no question', wire([1, 0, 0, 0]), 'DNS_TRUNCATED', 'questions[0].name'],
    ['a label running past the end', wire([1, 0, 0, 0], [10, 0x61, 0x62]), 'DNS_TRUNCATED', 'questions[0].name'],
    ['a name without its root label', wire([1, 0, 0, 0], label('abc')), 'DNS_TRUNCATED', 'questions[0].name'],
    ['a question without type and class', wire([1, 0, 0, 0], name('a'), [0]), 'DNS_TRUNCATED', 'questions[0]'],
    ['a pointer to itself', wire([1, 0, 0, 0], [0xc0, 12], u16(1), u16(1)), 'DNS_BAD_POINTER', 'questions[0].name'],
    ['a pointer forwards', wire([1, 0, 0, 0], [0xc0, 20], u16(1), u16(1), name('a')), 'DNS_BAD_POINTER', 'questions[0].name'],
    ['a pointer cut in half', wire([1, 0, 0, 0], [0xc0]), 'DNS_TRUNCATED', 'questions[0].name'],
    [
      'a pointer loop between two names',
      // name 1 at 12: "a" then pointer to 17; name 2 at 17 (answer owner): "b" then pointer to 12.
      wire([1, 1, 0, 0], [1, 0x61, 0xc0, 17], u16(1), u16(1), [1, 0x62, 0xc0, 12], u16(1), u16(1), u32(0), u16(0)),
      'DNS_BAD_POINTER',
      'questions[0].name',
    ],
    ['an extended label type', wire([1, 0, 0, 0], [0x41, 0], u16(1), u16(1)), 'DNS_BAD_LABEL', 'questions[0].name'],
    ['a name over 255 bytes', wire([1, 0, 0, 0], name(...long, 'y'), u16(1), u16(1)), 'DNS_NAME_TOO_LONG', 'questions[0].name'],
    ['an A record of 5 bytes', wire([0, 1, 0, 0], name('a'), u16(1), u16(1), u32(1), u16(5), [1, 2, 3, 4, 5]), 'DNS_BAD_RDATA', 'answers[0].rdata'],
    ['an AAAA record of 4 bytes', wire([0, 1, 0, 0], name('a'), u16(28), u16(1), u32(1), u16(4), [1, 2, 3, 4]), 'DNS_BAD_RDATA', 'answers[0].rdata'],
    ['rdata past the end', wire([0, 0, 1, 0], name('a'), u16(16), u16(1), u32(1), u16(9), [1]), 'DNS_TRUNCATED', 'authorities[0].rdata'],
    ['a CNAME shorter than its rdata', wire([0, 1, 0, 0], name('a'), u16(5), u16(1), u32(1), u16(5), name('b'), [0, 0]), 'DNS_BAD_RDATA', 'answers[0].rdata'],
    ['a record missing its ttl', wire([0, 0, 0, 1], name('a'), u16(1), u16(1), [0]), 'DNS_TRUNCATED', 'additionals[0]'],
  ])('rejects %s', (_what, buf, code, path) => {
    const r = parseMessage(buf);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toBeInstanceOf(DnsFormatError);
    expect(r.error).toMatchObject({ code, path });
    expect(r.error.message.startsWith(`${path}: `)).toBe(true);
    // The id survives whenever the header does, so a FORMERR can be addressed.
    expect(r.header?.id).toBe(buf.length >= 12 ? 0xbeef : undefined);
  });

  it('never throws on random or mutated input', () => {
    const good = serializeMessage(
      message({
        questions: [{ name: 'web.default.svc.cluster.local', type: 1, class: 1 }],
        answers: [
          { kind: 'CNAME', name: 'web.default.svc.cluster.local', class: 1, ttl: 1, target: 'x.default.svc.cluster.local' },
          { kind: 'A', name: 'x.default.svc.cluster.local', class: 1, ttl: 1, address: '10.0.0.1' },
        ],
      }),
    );
    for (let i = 0; i < 2000; i++) {
      expect(() => parseMessage(randomBytes(i % 300))).not.toThrow();
      const mutated = Buffer.from(good);
      for (let k = 0; k < 1 + (i % 4); k++) mutated[(i * 7919 + k * 104729) % mutated.length] = (i * 31 + k) & 0xff;
      expect(() => parseMessage(mutated.subarray(0, mutated.length - (i % 5)))).not.toThrow();
    }
  });

  it.each([
    ['a label over 63 bytes', { name: `${'x'.repeat(64)}.com` }, 'DNS_BAD_LABEL'],
    ['an empty label', { name: 'a..b' }, 'DNS_BAD_LABEL'],
    ['a name over 255 bytes', { name: long.join('.') + '.yyyyy' }, 'DNS_NAME_TOO_LONG'],
    ['a non-ASCII name', { name: 'bücher.example' }, 'DNS_BAD_LABEL'],
  ])('refuses to write %s', (_what, q, code) => {
    expect(() => serializeMessage(message({ questions: [{ type: 1, class: 1, ...q }] }))).toThrow(expect.objectContaining({ code, path: 'questions[0].name' }));
  });

  it('refuses to write an A record that is not an IPv4 address', () => {
    expect(() => serializeMessage(message({ answers: [{ kind: 'A', name: 'a', class: 1, ttl: 1, address: '::1' }] }))).toThrow(
      expect.objectContaining({ code: 'DNS_BAD_RDATA', path: 'answers[0].address' }),
    );
  });
});
