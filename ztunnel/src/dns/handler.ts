// One DNS request, start to finish: planQuery decides (pure) whether to drop it, answer it
// (authoritatively, or with FORMERR/NOTIMP) or forward it; handleQuery carries the plan out, counts
// it, and hands back the wire bytes to send. Nothing a client sends can make it throw.
import type { Logger } from '../../../lib/log/logger.ts';
import type { Forwarder } from './forwarder.ts';
import {
  CLASSIC_UDP_PAYLOAD,
  OPCODE_QUERY,
  parseMessage,
  RCODE,
  RR_TYPE,
  serializeMessage,
  type DnsFormatErrorCode,
  type DnsHeader,
  type DnsMessage,
  type DnsQuestion,
  type DnsRecord,
} from './message.ts';
import { dnsLabels, type DnsMetrics, type DnsProtocol, type DnsSource } from './metrics.ts';
import { resolve, type HostCatalog } from './resolve.ts';

export interface QueryContext {
  catalog: HostCatalog;
  clientNamespace: string;
  clusterDomain?: string;
  searchDomains?: readonly string[];
}

export type DropReason = 'short-header' | 'not-a-query';
export type MalformedReason = DropReason | DnsFormatErrorCode | 'DNS_QUESTION_COUNT';

export type QueryPlan =
  /** Not worth a reply: too short to carry an id, or a response rather than a query. */
  | { kind: 'drop'; reason: DropReason }
  | { kind: 'reply'; response: DnsMessage; question?: DnsQuestion; malformed?: MalformedReason; maxUdpPayload: number }
  | { kind: 'forward'; query: DnsMessage; question: DnsQuestion; maxUdpPayload: number };

export function planQuery(raw: Buffer, ctx: QueryContext): QueryPlan {
  const parsed = parseMessage(raw);
  if (!parsed.ok) {
    if (!parsed.header) return { kind: 'drop', reason: 'short-header' };
    if (parsed.header.qr) return { kind: 'drop', reason: 'not-a-query' };
    return { kind: 'reply', response: reply(parsed.header, [], RCODE.FORMERR), malformed: parsed.error.code, maxUdpPayload: CLASSIC_UDP_PAYLOAD };
  }
  const query = parsed.message;
  if (query.header.qr) return { kind: 'drop', reason: 'not-a-query' };
  const maxUdpPayload = udpPayloadLimit(query);
  const question = query.questions[0];
  if (query.header.opcode !== OPCODE_QUERY) {
    return { kind: 'reply', response: reply(query.header, query.questions, RCODE.NOTIMP), ...(question ? { question } : {}), maxUdpPayload };
  }
  if (!question || query.questions.length !== 1) {
    return { kind: 'reply', response: reply(query.header, query.questions, RCODE.FORMERR), malformed: 'DNS_QUESTION_COUNT', maxUdpPayload };
  }
  const r = resolve({ ...ctx, question });
  if (r.kind === 'forward') return { kind: 'forward', query, question, maxUdpPayload };
  const response = reply(query.header, [question], RCODE.NOERROR, r.records);
  response.header.aa = true;
  return { kind: 'reply', response, question, maxUdpPayload };
}

/** A response to `query`: its id, opcode, RD and CD echoed; recursion offered (we forward). */
export function reply(query: DnsHeader, questions: DnsQuestion[], rcode: number, answers: DnsRecord[] = []): DnsMessage {
  return {
    header: { id: query.id, qr: true, opcode: query.opcode, aa: false, tc: false, rd: query.rd, ra: true, ad: false, cd: query.cd, rcode },
    questions,
    answers,
    authorities: [],
    additionals: [],
  };
}

/** The client's EDNS payload size (RFC 6891), never below the classic 512 bytes. */
function udpPayloadLimit(query: DnsMessage): number {
  const opt = query.additionals.find((r) => r.kind === 'raw' && r.type === RR_TYPE.OPT);
  return Math.max(CLASSIC_UDP_PAYLOAD, opt?.class ?? 0);
}

/** Wire bytes of our own response; over UDP one that does not fit is cut to its question with TC. */
export function encodeResponse(response: DnsMessage, protocol: DnsProtocol, maxUdpPayload: number): Buffer {
  const wire = serializeMessage(response);
  if (protocol === 'tcp' || wire.length <= maxUdpPayload) return wire;
  return serializeMessage({ ...response, header: { ...response.header, tc: true }, answers: [], authorities: [], additionals: [] });
}

export interface DnsHandlerDeps {
  /** The current catalog (rebuilt by the caller as the mesh changes). */
  catalog: () => HostCatalog;
  clientNamespace: string;
  clusterDomain?: string;
  searchDomains?: readonly string[];
  forwarder: Forwarder;
  metrics: DnsMetrics;
  /** The client pod's workload, for metric labels, when known. */
  source?: () => DnsSource | undefined;
  log: Logger;
}

export type DnsHandler = (raw: Buffer, protocol: DnsProtocol) => Promise<Buffer | undefined>;

export function dnsHandler(deps: DnsHandlerDeps): DnsHandler {
  return async (raw, protocol) => {
    const plan = planQuery(raw, {
      catalog: deps.catalog(),
      clientNamespace: deps.clientNamespace,
      ...(deps.clusterDomain ? { clusterDomain: deps.clusterDomain } : {}),
      ...(deps.searchDomains ? { searchDomains: deps.searchDomains } : {}),
    });
    if (plan.kind === 'drop') {
      deps.metrics.malformed.inc({ request_protocol: protocol, reason: plan.reason });
      deps.log.debug({ protocol, bytes: raw.length, reason: plan.reason }, 'dns request dropped');
      return undefined;
    }
    if (plan.kind === 'reply') {
      if (plan.malformed) {
        deps.metrics.malformed.inc({ request_protocol: protocol, reason: plan.malformed });
        deps.log.debug({ protocol, bytes: raw.length, reason: plan.malformed }, 'malformed dns request');
      }
      if (plan.question) deps.metrics.requests.inc(dnsLabels(plan.question.type, protocol, deps.source?.()));
      return encodeResponse(plan.response, protocol, plan.maxUdpPayload);
    }
    const labels = dnsLabels(plan.question.type, protocol, deps.source?.());
    deps.metrics.requests.inc(labels);
    deps.metrics.upstreamRequests.inc(labels);
    const started = performance.now();
    const result = await deps.forwarder.forward(raw, plan.question, protocol);
    deps.metrics.upstreamDuration.observe(labels, (performance.now() - started) / 1000);
    if (result.ok) return result.response;
    deps.metrics.upstreamFailures.inc(labels);
    deps.log.debug({ name: plan.question.name, code: result.error.code, err: result.error.message }, 'dns forward failed');
    return encodeResponse(reply(plan.query.header, [plan.question], RCODE.SERVFAIL), protocol, plan.maxUdpPayload);
  };
}
