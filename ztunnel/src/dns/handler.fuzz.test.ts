// Fuzzing the DNS proxy's request handler (what a pod sends to 15053, UDP and TCP): arbitrary bytes
// and mutations of real queries, against a catalog of mesh names. It never throws; it drops only
// what cannot carry an id or is not a query, and counts those and every FORMERR in
// ztunnel_dns_malformed_requests_total; every answer it sends is a well-formed response to the
// query's id that fits the transport.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzBudget, fuzzParams, wireInput } from '../../../lib/fuzz/fuzz.ts';
import { createLogger } from '../../../lib/log/logger.ts';
import { Registry } from '../../../lib/metrics/registry.ts';
import { Forwarder } from './forwarder.ts';
import { dnsHandler } from './handler.ts';
import { CLASSIC_UDP_PAYLOAD, CLASS_IN, parseHeader, parseMessage, RCODE, RR_TYPE, serializeMessage } from './message.ts';
import { registerDnsMetrics } from './metrics.ts';
import type { HostCatalog } from './resolve.ts';
import { dnsQuery } from './test-messages.ts';

const budget = fuzzBudget();

const catalog: HostCatalog = new Map([
  ['web.prod.svc.cluster.local', ['10.96.0.10', 'fd00::10']],
  ['many.prod.svc.cluster.local', Array.from({ length: 60 }, (_, i) => `10.97.0.${i + 1}`)],
  ['*.wild.example', ['10.98.0.1']],
]);

const SEEDS = [
  dnsQuery('web'),
  dnsQuery('many.prod', { type: RR_TYPE.A }),
  dnsQuery('web.prod.svc.cluster.local', { type: RR_TYPE.AAAA }),
  dnsQuery('a.wild.example'),
  dnsQuery('example.com', { type: RR_TYPE.MX }),
  serializeMessage({
    header: { id: 9, qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, ad: false, cd: false, rcode: 0 },
    questions: [{ name: 'web.prod.svc.cluster.local', type: RR_TYPE.A, class: CLASS_IN }],
    answers: [],
    authorities: [],
    additionals: [{ kind: 'raw', name: '', type: RR_TYPE.OPT, class: 1232, ttl: 0, data: Buffer.alloc(0) }],
  }),
];

describe('DNS request handler under fuzzing', () => {
  it('answers or drops every request, counting the malformed ones, with well-formed responses', async () => {
    const metrics = registerDnsMetrics(new Registry());
    // No upstreams: a forward fails at once and is answered SERVFAIL (counted as an upstream failure).
    const forwarder = new Forwarder({ upstreams: [], timeoutMs: 100, sockets: { udp: () => { throw new Error('unused'); }, tcp: () => { throw new Error('unused'); } } });
    const handle = dnsHandler({ catalog: () => catalog, clientNamespace: 'prod', forwarder, metrics, log: createLogger({ component: 'dns-fuzz', level: 'silent' }) });
    const malformedTotal = (): number => ['udp', 'tcp'].reduce((n, p) => n + ['short-header', 'not-a-query', 'DNS_SHORT_HEADER', 'DNS_TRUNCATED', 'DNS_BAD_LABEL', 'DNS_NAME_TOO_LONG', 'DNS_BAD_POINTER', 'DNS_BAD_RDATA', 'DNS_QUESTION_COUNT'].reduce((m, reason) => m + metrics.malformed.get({ request_protocol: p, reason }), 0), 0);
    await fc.assert(
      fc.asyncProperty(wireInput(SEEDS, 1500), fc.constantFrom<'udp' | 'tcp'>('udp', 'tcp'), async (raw, protocol) => {
        const before = malformedTotal();
        const response = await handle(raw, protocol);
        const query = parseMessage(raw);
        const header = parseHeader(raw);
        if (response === undefined) {
          // Dropped: only what has no id to answer to, or is a response itself; counted.
          expect(header === undefined || header.qr).toBe(true);
          expect(malformedTotal()).toBe(before + 1);
          return;
        }
        const r = parseMessage(response);
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.message.header.qr).toBe(true);
        expect(r.message.header.id).toBe(header!.id);
        if (protocol === 'udp') expect(response.length <= CLASSIC_UDP_PAYLOAD || (query.ok && query.message.additionals.some((a) => a.kind === 'raw' && a.type === RR_TYPE.OPT))).toBe(true);
        expect(response.length).toBeLessThanOrEqual(0xffff);
        const formerr = r.message.header.rcode === RCODE.FORMERR;
        expect(malformedTotal()).toBe(before + (formerr ? 1 : 0));
        if (!query.ok) expect(formerr).toBe(true);
      }),
      fuzzParams(budget, { hangMs: 5000 }),
    );
    expect(malformedTotal()).toBeGreaterThan(0);
  }, budget.testTimeoutMs);
});
