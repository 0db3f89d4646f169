// Route matching (pure): the virtual host by `:authority` with Envoy's domain rules, then the first
// route of that host whose match (path, headers, query parameters) accepts the request.
import type { HeaderMatch, PathMatch, QueryParamMatch, Route, RouteMatch, RouteTable, StringMatch, VirtualHost } from '../config/types.ts';
import { regexFullMatch } from './regex.ts';

/** What route matching reads from a request. Header names are lower case. */
export interface RouteRequest {
  readonly authority: string;
  /** `:path` with the query string. */
  readonly path: string;
  readonly method: string;
  readonly scheme: string;
  /** A header's value; repeated headers joined with `,` (as Envoy matches them). */
  header(name: string): string | undefined;
}

export interface RouteSelection {
  readonly virtualHost: VirtualHost;
  readonly route: Route;
}

/**
 * Envoy's order: exact domain, then the longest `*.suffix` (or `*-suffix`) wildcard, then the longest
 * `prefix.*` wildcard, then `*`. When nothing matches and the authority carries a port, the
 * host without the port is tried again.
 */
export function selectVirtualHost(table: RouteTable, authority: string): VirtualHost | undefined {
  const host = authority.toLowerCase();
  const found = findHost(table.virtualHosts, host);
  if (found) return found;
  const stripped = stripPort(host);
  return stripped !== host ? findHost(table.virtualHosts, stripped) : undefined;
}

function findHost(hosts: readonly VirtualHost[], host: string): VirtualHost | undefined {
  let suffix: { vh: VirtualHost; len: number } | undefined;
  let prefix: { vh: VirtualHost; len: number } | undefined;
  let any: VirtualHost | undefined;
  for (const vh of hosts) {
    for (const raw of vh.domains) {
      const d = raw.toLowerCase();
      if (d === '*') {
        any ??= vh;
      } else if (d.startsWith('*')) {
        const s = d.slice(1);
        // The wildcard stands for at least one character.
        if (host.length > s.length && host.endsWith(s) && (!suffix || s.length > suffix.len)) suffix = { vh, len: s.length };
      } else if (d.endsWith('*')) {
        const p = d.slice(0, -1);
        if (host.length > p.length && host.startsWith(p) && (!prefix || p.length > prefix.len)) prefix = { vh, len: p.length };
      } else if (d === host) {
        return vh;
      }
    }
  }
  return suffix?.vh ?? prefix?.vh ?? any;
}

function stripPort(host: string): string {
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    return close > 0 ? host.slice(0, close + 1) : host;
  }
  const colon = host.lastIndexOf(':');
  if (colon <= 0 || host.indexOf(':') !== colon) return host;
  return /^[0-9]+$/.test(host.slice(colon + 1)) ? host.slice(0, colon) : host;
}

/** The first route of the selected virtual host that matches, or undefined (404 NR). */
export function matchRoute(table: RouteTable, req: RouteRequest): RouteSelection | undefined {
  const virtualHost = selectVirtualHost(table, req.authority);
  if (!virtualHost) return undefined;
  const query = parseQuery(req.path);
  for (const route of virtualHost.routes) {
    if (routeMatches(route.match, req, query)) return { virtualHost, route };
  }
  return undefined;
}

export function routeMatches(m: RouteMatch, req: RouteRequest, query: ReadonlyMap<string, string> = parseQuery(req.path)): boolean {
  if (!pathMatches(m.path, req.path, m.caseSensitive)) return false;
  for (const h of m.headers) if (!headerMatches(h, req)) return false;
  for (const q of m.queryParams) if (!queryMatches(q, query)) return false;
  return true;
}

export function pathMatches(m: PathMatch, fullPath: string, caseSensitive: boolean): boolean {
  const q = fullPath.indexOf('?');
  const path = q >= 0 ? fullPath.slice(0, q) : fullPath;
  const norm = (s: string): string => (caseSensitive ? s : s.toLowerCase());
  switch (m.kind) {
    // Envoy's prefix applies to the whole :path, query included.
    case 'prefix':
      return norm(fullPath).startsWith(norm(m.value));
    case 'exact':
      return norm(path) === norm(m.value);
    case 'regex':
      return regexFullMatch(m.value, path);
    case 'separated-prefix': {
      const p = norm(path);
      const v = norm(m.value);
      return p === v || (p.startsWith(v) && p[v.length] === '/');
    }
  }
}

function pseudoOrHeader(req: RouteRequest, name: string): string | undefined {
  switch (name) {
    case ':authority':
    case 'host':
      return req.authority;
    case ':path':
      return req.path;
    case ':method':
      return req.method;
    case ':scheme':
      return req.scheme;
    default:
      return req.header(name);
  }
}

export function headerMatches(h: HeaderMatch, req: RouteRequest): boolean {
  const value = pseudoOrHeader(req, h.name) ?? (h.treatMissingAsEmpty ? '' : undefined);
  const ok = h.match.kind === 'present' ? value !== undefined : value !== undefined && stringMatches(h.match, value);
  return h.invert ? !ok : ok;
}

function queryMatches(q: QueryParamMatch, query: ReadonlyMap<string, string>): boolean {
  const value = query.get(q.name);
  if (value === undefined) return false;
  return q.match.kind === 'present' || stringMatches(q.match, value);
}

export function stringMatches(m: StringMatch, value: string): boolean {
  if (m.kind === 'present') return true;
  if (m.kind === 'regex') return regexFullMatch(m.value, value);
  const v = m.ignoreCase ? value.toLowerCase() : value;
  const want = m.ignoreCase ? m.value.toLowerCase() : m.value;
  switch (m.kind) {
    case 'exact':
      return v === want;
    case 'prefix':
      return v.startsWith(want);
    case 'suffix':
      return v.endsWith(want);
    case 'contains':
      return v.includes(want);
  }
}

/** First value of each query parameter, percent-decoded (a bad escape keeps the raw text). */
export function parseQuery(path: string): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  const q = path.indexOf('?');
  if (q < 0) return out;
  const end = path.indexOf('#', q);
  for (const part of path.slice(q + 1, end >= 0 ? end : undefined).split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = decode(eq >= 0 ? part.slice(0, eq) : part);
    if (!out.has(k)) out.set(k, eq >= 0 ? decode(part.slice(eq + 1)) : '');
  }
  return out;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}
