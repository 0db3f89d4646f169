// Test support for the DNS suites (unit and e2e): a query, a decoder that throws, the addresses of
// an answer.
import { CLASS_IN, parseMessage, RR_TYPE, serializeMessage, type DnsMessage } from './message.ts';

export function dnsQuery(name: string, opts: { type?: number; id?: number; opcode?: number } = {}): Buffer {
  return serializeMessage({
    header: { id: opts.id ?? 0x4242, qr: false, opcode: opts.opcode ?? 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0 },
    questions: [{ name, type: opts.type ?? RR_TYPE.A, class: CLASS_IN }],
    answers: [],
    authorities: [],
    additionals: [],
  });
}

export function decodeDns(buf: Buffer): DnsMessage {
  const r = parseMessage(buf);
  if (!r.ok) throw r.error;
  return r.message;
}

export const answerAddresses = (m: DnsMessage): string[] => m.answers.flatMap((r) => (r.kind === 'A' || r.kind === 'AAAA' ? [r.address] : []));
