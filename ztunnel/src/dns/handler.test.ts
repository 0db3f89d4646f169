// planQuery: what the proxy decides for each shape of request, before any socket is involved; and
// encodeResponse's UDP size limit (classic 512 bytes, or the client's EDNS payload size).
import { describe, expect, it } from 'vitest';
import { encodeResponse, planQuery, reply, type QueryPlan } from './handler.ts';
import { CLASS_IN, parseMessage, RCODE, RR_TYPE, serializeMessage, type DnsMessage, type DnsQuestion, type DnsRecord } from './message.ts';
import type { HostCatalog } from './resolve.ts';

const catalog: HostCatalog = new Map([['web.prod.svc.cluster.local', ['10.96.0.10']]]);
const ctx = { catalog, clientNamespace: 'prod' };

function msg(p: { questions?: DnsQuestion[]; qr?: boolean; opcode?: number; additionals?: DnsRecord[] } = {}): Buffer {
  return serializeMessage({
    header: { id: 77, qr: p.qr ?? false, opcode: p.opcode ?? 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: true, rcode: 0 },
    questions: p.questions ?? [{ name: 'web', type: RR_TYPE.A, class: CLASS_IN }],
    answers: [],
    authorities: [],
    additionals: p.additionals ?? [],
  });
}
const q = (name: string, type: number = RR_TYPE.A): DnsQuestion => ({ name, type, class: CLASS_IN });
const opt = (size: number): DnsRecord => ({ kind: 'raw', name: '', type: RR_TYPE.OPT, class: size, ttl: 0, data: Buffer.alloc(0) });

function summary(plan: QueryPlan): unknown {
  if (plan.kind === 'drop') return { kind: 'drop', reason: plan.reason };
  if (plan.kind === 'forward') return { kind: 'forward', name: plan.question.name, maxUdpPayload: plan.maxUdpPayload };
  const h = plan.response.header;
  return { kind: 'reply', rcode: h.rcode, aa: h.aa, answers: plan.response.answers.length, malformed: plan.malformed };
}

describe('planQuery', () => {
  it.each<[string, Buffer, unknown]>([
    ['a datagram shorter than a header', Buffer.alloc(5), { kind: 'drop', reason: 'short-header' }],
    ['a response', msg({ qr: true }), { kind: 'drop', reason: 'not-a-query' }],
    ['a malformed response', Buffer.concat([msg({ qr: true }).subarray(0, 12), Buffer.from([9])]), { kind: 'drop', reason: 'not-a-query' }],
    ['a malformed query', Buffer.concat([msg().subarray(0, 12), Buffer.from([9])]), { kind: 'reply', rcode: RCODE.FORMERR, aa: false, answers: 0, malformed: 'DNS_TRUNCATED' }],
    ['no question', msg({ questions: [] }), { kind: 'reply', rcode: RCODE.FORMERR, aa: false, answers: 0, malformed: 'DNS_QUESTION_COUNT' }],
    ['two questions', msg({ questions: [q('web'), q('db')] }), { kind: 'reply', rcode: RCODE.FORMERR, aa: false, answers: 0, malformed: 'DNS_QUESTION_COUNT' }],
    ['a NOTIFY', msg({ opcode: 4 }), { kind: 'reply', rcode: RCODE.NOTIMP, aa: false, answers: 0, malformed: undefined }],
    ['a mesh service', msg(), { kind: 'reply', rcode: RCODE.NOERROR, aa: true, answers: 2, malformed: undefined }],
    ['a mesh service, no AAAA (only the CNAME)', msg({ questions: [q('web', RR_TYPE.AAAA)] }), { kind: 'reply', rcode: RCODE.NOERROR, aa: true, answers: 1, malformed: undefined }],
    ['an external name', msg({ questions: [q('example.com')] }), { kind: 'forward', name: 'example.com', maxUdpPayload: 512 }],
    ['an external name with EDNS', msg({ questions: [q('example.com')], additionals: [opt(1232)] }), { kind: 'forward', name: 'example.com', maxUdpPayload: 1232 }],
    ['an EDNS size below 512', msg({ questions: [q('example.com')], additionals: [opt(100)] }), { kind: 'forward', name: 'example.com', maxUdpPayload: 512 }],
  ])('%s', (_what, raw, want) => {
    expect(summary(planQuery(raw, ctx))).toEqual(want);
  });

  it('echoes id, opcode, RD and CD, and the question in its original spelling', () => {
    const plan = planQuery(msg({ questions: [q('WEB')] }), ctx);
    if (plan.kind !== 'reply') throw new Error(plan.kind);
    expect(plan.response.header).toEqual({ id: 77, qr: true, opcode: 0, aa: true, tc: false, rd: true, ra: true, ad: false, cd: true, rcode: 0 });
    expect(plan.response.questions).toEqual([q('WEB')]);
  });
});

describe('encodeResponse', () => {
  const big = (): DnsMessage => {
    const base = reply({ id: 1, qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0 }, [q('many')], RCODE.NOERROR);
    base.answers = Array.from({ length: 40 }, (_, i): DnsRecord => ({ kind: 'A', name: 'many', class: CLASS_IN, ttl: 30, address: `10.0.0.${i}` }));
    return base;
  };

  it('cuts a UDP response over the limit to its question, with TC', () => {
    const wire = encodeResponse(big(), 'udp', 512);
    const m = parseMessage(wire);
    expect(m.ok && m.message.header.tc).toBe(true);
    expect(m.ok && m.message.answers).toEqual([]);
    expect(m.ok && m.message.questions).toEqual([q('many')]);
  });

  it('keeps it whole within the EDNS size or over TCP', () => {
    for (const wire of [encodeResponse(big(), 'udp', 4096), encodeResponse(big(), 'tcp', 512)]) {
      const m = parseMessage(wire);
      expect(m.ok && m.message.answers.length).toBe(40);
      expect(m.ok && m.message.header.tc).toBe(false);
    }
  });
});
