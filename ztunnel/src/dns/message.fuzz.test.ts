// Fuzzing the DNS wire format: arbitrary bytes and mutations of real queries and responses (with
// compressed names, EDNS, CNAME chains). Parsing never throws and never loops; a refusal is a
// DnsFormatError with a path; a message it accepts serializes again and parses back to the same
// content; and any message we build serializes to bytes that parse back to it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzBudget, fuzzParams, wireInput } from '../../../lib/fuzz/fuzz.ts';
import { canonicalName, CLASS_IN, DnsFormatError, parseMessage, RR_TYPE, serializeMessage, type DnsMessage, type DnsRecord } from './message.ts';
import { dnsQuery } from './test-messages.ts';

const budget = fuzzBudget();

const header = (p: Partial<DnsMessage['header']> = {}): DnsMessage['header'] => ({ id: 0x1234, qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0, ...p });

const SEEDS: Buffer[] = [
  dnsQuery('web.prod.svc.cluster.local'),
  dnsQuery('example.com', { type: RR_TYPE.AAAA }),
  serializeMessage({
    header: header({ qr: true, aa: true }),
    questions: [{ name: 'web', type: RR_TYPE.A, class: CLASS_IN }],
    answers: [
      { kind: 'CNAME', name: 'web', class: CLASS_IN, ttl: 30, target: 'web.prod.svc.cluster.local' },
      { kind: 'A', name: 'web.prod.svc.cluster.local', class: CLASS_IN, ttl: 30, address: '10.96.0.10' },
      { kind: 'AAAA', name: 'web.prod.svc.cluster.local', class: CLASS_IN, ttl: 30, address: 'fd00::10' },
    ],
    authorities: [],
    additionals: [{ kind: 'raw', name: '', type: RR_TYPE.OPT, class: 1232, ttl: 0, data: Buffer.alloc(0) }],
  }),
  serializeMessage({
    header: header(),
    questions: [{ name: 'a.b.c', type: RR_TYPE.SRV, class: CLASS_IN }],
    answers: [],
    authorities: [{ kind: 'raw', name: 'b.c', type: RR_TYPE.SOA, class: CLASS_IN, ttl: 5, data: Buffer.from([1, 2, 3, 0xc0, 12]) }],
    additionals: [],
  }),
];

/** Names compare case-insensitively, and compression may reuse an earlier spelling of a suffix. */
function normalized(m: DnsMessage): unknown {
  const rec = (r: DnsRecord): unknown => ({ ...r, name: canonicalName(r.name), ...(r.kind === 'CNAME' ? { target: canonicalName(r.target) } : {}) });
  return {
    header: m.header,
    questions: m.questions.map((q) => ({ ...q, name: canonicalName(q.name) })),
    answers: m.answers.map(rec),
    authorities: m.authorities.map(rec),
    additionals: m.additionals.map(rec),
  };
}

const label = fc.oneof(
  fc.stringMatching(/^[a-z0-9-]{1,20}$/),
  // Any bytes, written as the parser writes them: printable ASCII as is, the rest as \DDD.
  fc.uint8Array({ minLength: 1, maxLength: 63 }).map((b) =>
    [...b].map((x) => (x > 0x20 && x < 0x7f && x !== 0x2e && x !== 0x5c ? String.fromCharCode(x) : `\\${String(x).padStart(3, '0')}`)).join(''),
  ),
);
const name = fc.array(label, { maxLength: 4 }).map((ls) => ls.join('.'));
const u16 = fc.integer({ min: 0, max: 0xffff });
const recordArb: fc.Arbitrary<DnsRecord> = fc.oneof(
  fc.record({ kind: fc.constant('A' as const), name, class: u16, ttl: fc.nat(), address: fc.ipV4() }),
  fc.record({ kind: fc.constant('CNAME' as const), name, class: u16, ttl: fc.nat(), target: name }),
  fc.record({ kind: fc.constant('raw' as const), name, class: u16, ttl: fc.nat(), type: fc.constantFrom(RR_TYPE.TXT, RR_TYPE.MX, RR_TYPE.OPT, 99), data: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)) }),
);
const messageArb: fc.Arbitrary<DnsMessage> = fc.record({
  header: fc.record({
    id: u16,
    qr: fc.boolean(),
    opcode: fc.integer({ min: 0, max: 15 }),
    aa: fc.boolean(),
    tc: fc.boolean(),
    rd: fc.boolean(),
    ra: fc.boolean(),
    ad: fc.boolean(),
    cd: fc.boolean(),
    rcode: fc.integer({ min: 0, max: 15 }),
  }),
  questions: fc.array(fc.record({ name, type: u16, class: u16 }), { maxLength: 3 }),
  answers: fc.array(recordArb, { maxLength: 4 }),
  authorities: fc.array(recordArb, { maxLength: 2 }),
  additionals: fc.array(recordArb, { maxLength: 2 }),
});

describe('DNS messages under fuzzing', () => {
  it('parses or refuses every datagram, and what it accepts re-serializes to the same content', () => {
    fc.assert(
      fc.property(wireInput(SEEDS, 1024), (raw) => {
        const r = parseMessage(raw);
        if (!r.ok) {
          expect(r.error).toBeInstanceOf(DnsFormatError);
          expect(r.error.path.length).toBeGreaterThan(0);
          // A FORMERR reply needs the id: the header is there whenever 12 bytes were.
          expect(r.header === undefined).toBe(raw.length < 12);
          return;
        }
        const again = parseMessage(serializeMessage(r.message));
        expect(again.ok).toBe(true);
        if (again.ok) expect(normalized(again.message)).toEqual(normalized(r.message));
      }),
      fuzzParams(budget),
    );
  }, budget.testTimeoutMs);

  it('serializes every message it can build into bytes that parse back to it', () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        let wire: Buffer;
        try {
          wire = serializeMessage(m);
        } catch (err) {
          // Only names beyond the 255-byte limit are refused, and as a typed error.
          expect(err).toBeInstanceOf(DnsFormatError);
          expect((err as DnsFormatError).code).toBe('DNS_NAME_TOO_LONG');
          return;
        }
        const back = parseMessage(wire);
        expect(back.ok).toBe(true);
        if (back.ok) expect(normalized(back.message)).toEqual(normalized(m));
      }),
      fuzzParams(budget),
    );
  }, budget.testTimeoutMs);

  // Found by the property above: name compression folded case beyond ASCII and joined labels with
  // NUL, so a different name was written as a pointer to an earlier one.
  it.each([
    ['non-ASCII letters that only JavaScript folds together', '\\207', '\\239'],
    ['a NUL inside a label against a label boundary', 'a\\000b.x', 'a.b.x'],
  ])('keeps names apart that differ only in %s', (_what, first, second) => {
    const a = (n: string): DnsRecord => ({ kind: 'A', name: n, class: CLASS_IN, ttl: 1, address: '10.0.0.1' });
    const wire = serializeMessage({ header: header({ qr: true }), questions: [], answers: [a(first), a(second)], authorities: [], additionals: [] });
    const back = parseMessage(wire);
    expect(back.ok && back.message.answers.map((r) => r.name)).toEqual([first, second]);
  });
});
