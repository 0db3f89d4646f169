// Header maps and the header rules of a waypoint HCM (pure): hop-by-hop removal, the headers Envoy
// adds on the way upstream (x-request-id, x-forwarded-proto) and downstream (server).
import { randomUUID } from 'node:crypto';

export type HeaderValue = string | string[];
/** Lower-case names, no pseudo-headers. */
export type HeaderMap = Record<string, HeaderValue>;

export type HttpProtocol = 'HTTP/1.1' | 'HTTP/2';

/** A request as the HCM, filters and the router see it. `headers` is mutable for filters. */
export interface RequestHead {
  method: string;
  /** `:path`, query included. */
  path: string;
  authority: string;
  scheme: string;
  headers: HeaderMap;
  readonly protocol: HttpProtocol;
}

export interface ResponseHead {
  status: number;
  headers: HeaderMap;
}

/** Connection-specific headers (RFC 9110 §7.6.1) that never cross a proxy. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'http2-settings']);

export function headerValue(h: HeaderMap, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/**
 * Copies `src` without hop-by-hop headers, those the `connection` header names, and pseudo-headers.
 * `te: trailers` survives when the next hop is HTTP/2 (gRPC needs it).
 */
export function withoutHopByHop(src: Record<string, HeaderValue | undefined>, keepTeTrailers: boolean): HeaderMap {
  const named = new Set<string>();
  const conn = src['connection'];
  if (conn !== undefined) {
    for (const v of Array.isArray(conn) ? conn : [conn]) for (const t of v.split(',')) named.add(t.trim().toLowerCase());
  }
  const out: HeaderMap = {};
  for (const [k, v] of Object.entries(src)) {
    if (v === undefined || k.startsWith(':')) continue;
    const name = k.toLowerCase();
    if (name === 'te') {
      if (keepTeTrailers && headerValue(src as HeaderMap, 'te')?.toLowerCase().split(',').some((t) => t.trim() === 'trailers')) out['te'] = 'trailers';
      continue;
    }
    if (HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = v;
  }
  return out;
}

export interface RequestHeaderOptions {
  generateRequestId: boolean;
  /** Request id generator (tests inject one). */
  newRequestId?: () => string;
}

/**
 * Envoy's request-side mutations on a waypoint: x-request-id when absent (generate_request_id),
 * x-forwarded-proto from the (plaintext) inner connection. use_remote_address is false, so
 * x-forwarded-for is left as it came; trace headers pass through untouched.
 */
export function applyRequestHeaderRules(head: RequestHead, opts: RequestHeaderOptions): void {
  if (opts.generateRequestId && headerValue(head.headers, 'x-request-id') === undefined) head.headers['x-request-id'] = (opts.newRequestId ?? randomUUID)();
  head.headers['x-forwarded-proto'] = 'http';
}

/** Response-side: hop-by-hop gone, `server` overwritten when the chain names one. */
export function applyResponseHeaderRules(headers: HeaderMap, serverName: string | undefined): void {
  if (serverName) headers['server'] = serverName;
}

export function isGrpcContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/grpc(\+|;|$)/i.test(contentType);
}

/** HPACK-style size estimate (name + value + 32 per field), for header limits and request_size. */
export function headerBytes(h: Record<string, HeaderValue | undefined>): number {
  let n = 0;
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    for (const x of Array.isArray(v) ? v : [v]) n += k.length + String(x).length + 32;
  }
  return n;
}

/** Node's incoming header object as a HeaderMap: no undefined values, no pseudo-headers. */
export function cleanHeaders(h: Record<string, string | string[] | undefined> | undefined): HeaderMap {
  const out: HeaderMap = {};
  if (!h) return out;
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !k.startsWith(':')) out[k] = v;
  return out;
}
