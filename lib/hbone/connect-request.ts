// The HBONE CONNECT request (fact sheet §1.2): what a client puts in the HEADERS frame, and the
// server's decision whether a received request is a valid tunnel request. Pure functions.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { randomFillSync } from 'node:crypto';
import { formatAuthority, parseAuthority, type Authority } from './authority.ts';

/** The request headers HBONE defines besides `:authority`. */
export interface ConnectHeaders {
  /** Source workload description, `k=v` pairs joined by commas. */
  baggage?: string;
  /** `for="<client ip:port>"`, plus `;host=<service hostname>` when a service was addressed. */
  forwarded?: string;
  /** W3C traceparent; generated per request when absent. */
  traceparent?: string;
  /** Source network; only on the inner CONNECT of double-HBONE. */
  forwardedNetwork?: string;
}

/** Request headers for one CONNECT: classic CONNECT carries no `:scheme` or `:path`. */
export function buildConnectHeaders(authority: string, h: ConnectHeaders = {}): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':method': 'CONNECT', ':authority': authority };
  if (h.baggage !== undefined) out['baggage'] = h.baggage;
  if (h.forwarded !== undefined) out['forwarded'] = h.forwarded;
  out['traceparent'] = h.traceparent ?? newTraceparent();
  if (h.forwardedNetwork !== undefined) out['x-forwarded-network'] = h.forwardedNetwork;
  return out;
}

// Trace ids are drawn from a pool refilled 256 ids at a time: one randomBytes call per CONNECT was
// 3 % of a ztunnel's busy time under a new-connection load (make bench-l4-profile).
const ID_BYTES = 24;
const pool = Buffer.alloc(ID_BYTES * 256);
let poolOffset = pool.length;

/** A fresh sampled-off W3C traceparent: `00-<32 hex>-<16 hex>-00`. */
export function newTraceparent(): string {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const id = pool.toString('hex', poolOffset, poolOffset + ID_BYTES);
  poolOffset += ID_BYTES;
  return `00-${id.slice(0, 32)}-${id.slice(32)}-00`;
}

/** `for="<ip:port>"[;host=<hostname>]`, as ztunnel sends it. */
export function formatForwarded(clientIp: string, clientPort: number, serviceHostname?: string): string {
  const f = `for="${formatAuthority(clientIp, clientPort)}"`;
  return serviceHostname ? `${f};host=${serviceHostname}` : f;
}

export type ConnectDecision =
  | { kind: 'tunnel'; authority: Authority; rawAuthority: string; headers: ConnectHeaders }
  | { kind: 'reject'; status: 400; reason: string };

/** Validates a received request as an HBONE CONNECT; anything else is a 400. */
export function decideConnect(headers: IncomingHttpHeaders, opts: { allowHostnameAuthority?: boolean } = {}): ConnectDecision {
  const method = headers[':method'];
  if (method !== 'CONNECT') return { kind: 'reject', status: 400, reason: `method ${String(method)} is not CONNECT` };
  if (headers[':protocol'] !== undefined) return { kind: 'reject', status: 400, reason: 'extended CONNECT is not HBONE' };
  const raw = headers[':authority'];
  if (typeof raw !== 'string') return { kind: 'reject', status: 400, reason: 'missing :authority' };
  const parsed = parseAuthority(raw);
  if (parsed.kind === 'error') return { kind: 'reject', status: 400, reason: parsed.reason };
  if (parsed.authority.kind === 'hostname' && !opts.allowHostnameAuthority) {
    return { kind: 'reject', status: 400, reason: `authority ${raw}: hostname targets are not served here` };
  }
  const h: ConnectHeaders = {};
  const baggage = first(headers['baggage']);
  const forwarded = first(headers['forwarded']);
  const traceparent = first(headers['traceparent']);
  const network = first(headers['x-forwarded-network']);
  if (baggage !== undefined) h.baggage = baggage;
  if (forwarded !== undefined) h.forwarded = forwarded;
  // ztunnel ignores a traceparent of the wrong length and makes its own.
  if (traceparent !== undefined && traceparent.length === 55) h.traceparent = traceparent;
  if (network !== undefined) h.forwardedNetwork = network;
  return { kind: 'tunnel', authority: parsed.authority, rawAuthority: raw, headers: h };
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
