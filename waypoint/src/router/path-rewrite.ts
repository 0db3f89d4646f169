// Path and location rewriting (pure): a route's prefix_rewrite (the matched prefix, or the whole
// path of an exact match, replaced; the query kept) and regex_rewrite (RE2 over the path without
// its query), and a redirect's Location (scheme, host, port with default ports dropped, path or
// prefix rewrite, the query kept unless the new path carries one).
import type { PathMatch, RouteAction } from '../config/types.ts';
import { regexReplaceAll } from './regex.ts';

function splitQuery(path: string): { path: string; query: string } {
  const q = path.indexOf('?');
  return q >= 0 ? { path: path.slice(0, q), query: path.slice(q) } : { path, query: '' };
}

/** prefix_rewrite: the part `match` matched replaced; undefined when the match kind has no prefix. */
export function prefixRewrite(match: PathMatch, fullPath: string, rewrite: string): string | undefined {
  switch (match.kind) {
    case 'prefix':
    case 'separated-prefix':
      return rewrite + fullPath.slice(match.value.length);
    case 'exact': {
      const { path, query } = splitQuery(fullPath);
      return rewrite + path.slice(match.value.length) + query;
    }
    case 'regex':
      return undefined;
  }
}

/** The upstream `:path` for a route action: regex rewrite first if set, else prefix rewrite; undefined = unchanged. */
export function rewritePath(match: PathMatch, fullPath: string, a: Pick<Extract<RouteAction, { kind: 'route' }>, 'prefixRewrite' | 'regexRewrite'>): string | undefined {
  let out: string | undefined;
  if (a.regexRewrite) {
    const { path, query } = splitQuery(fullPath);
    const r = regexReplaceAll(a.regexRewrite.pattern, path, a.regexRewrite.substitution);
    out = r === undefined ? undefined : r + query;
  } else if (a.prefixRewrite !== undefined) {
    out = prefixRewrite(match, fullPath, a.prefixRewrite);
  }
  if (out === undefined || out === fullPath) return undefined;
  return out.startsWith('/') ? out : `/${out}`;
}

const DEFAULT_PORTS: Readonly<Record<string, string>> = { http: '80', https: '443' };

/** Location of a redirect for a request (`scheme`, `authority`, `:path`) that matched `match`. */
export function redirectLocation(
  a: Extract<RouteAction, { kind: 'redirect' }>,
  match: PathMatch,
  req: { scheme: string; authority: string; path: string },
): string {
  const scheme = a.scheme ?? req.scheme;
  const reqPort = /:([0-9]+)$/.exec(req.authority)?.[1];
  let host = a.host ?? req.authority.replace(/:[0-9]+$/, '');
  // A new host drops the request's port; a scheme change drops it when it was the old scheme's default.
  let port = a.port !== undefined ? String(a.port) : a.host ? undefined : reqPort;
  if (a.port === undefined && scheme !== req.scheme && port === DEFAULT_PORTS[req.scheme]) port = undefined;
  if (port !== undefined && DEFAULT_PORTS[scheme] !== port) host = `${host}:${port}`;
  let path = req.path;
  if (a.path !== undefined) {
    // path_redirect: a query in it replaces the request's, otherwise the request's is kept.
    path = a.path.includes('?') ? a.path : a.path + splitQuery(req.path).query;
  } else if (a.prefixRewrite !== undefined) {
    path = prefixRewrite(match, req.path, a.prefixRewrite) ?? req.path;
    if (!path.startsWith('/')) path = `/${path}`;
  }
  return `${scheme}://${host}${path}`;
}
