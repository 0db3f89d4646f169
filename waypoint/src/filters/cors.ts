// The CORS filter's decisions (pure; Envoy's envoy.filters.http.cors with the per-route policy Istio
// sends): a preflight (OPTIONS with Origin and Access-Control-Request-Method) from an allowed origin
// is answered by the waypoint with the allow headers; one from another origin goes upstream
// (forwardNotMatchingPreflights, Istio's default) or is answered without them; the response to an
// allowed actual request gets Access-Control-Allow-Origin (the request's origin echoed),
// -Allow-Credentials and -Expose-Headers.
import type { CorsPolicy, StringMatch } from '../config/types.ts';
import { regexFullMatch } from '../router/regex.ts';
import type { Random } from '../router/weighted-pick.ts';

export interface CorsRequest {
  method: string;
  /** Lower-case header names; the ones read: origin, access-control-request-method. */
  origin?: string;
  accessControlRequestMethod?: string;
}

export type CorsDecision =
  /** Not a CORS request for this policy: nothing to do. */
  | { kind: 'none' }
  /** Answer the preflight here, with these headers (status 200, no body). */
  | { kind: 'preflight'; status: 200; headers: Record<string, string> }
  /** Forward; add these headers to the response. */
  | { kind: 'forward'; responseHeaders: Record<string, string> };

function matches(m: StringMatch, v: string): boolean {
  const ic = 'ignoreCase' in m && m.ignoreCase;
  const a = ic ? v.toLowerCase() : v;
  switch (m.kind) {
    case 'exact':
      return a === (ic ? m.value.toLowerCase() : m.value);
    case 'prefix':
      return a.startsWith(ic ? m.value.toLowerCase() : m.value);
    case 'suffix':
      return a.endsWith(ic ? m.value.toLowerCase() : m.value);
    case 'contains':
      return a.includes(ic ? m.value.toLowerCase() : m.value);
    case 'regex':
      return regexFullMatch(m.value, v);
    case 'present':
      return true;
  }
}

export function originAllowed(p: CorsPolicy, origin: string): boolean {
  return p.allowOrigins.some((m) => matches(m, origin));
}

/** What the CORS filter does for `req` under `policy` (the route's); `random` decides filter_enabled. */
export function decideCors(policy: CorsPolicy | undefined, req: CorsRequest, random: Random = Math.random): CorsDecision {
  if (!policy || !req.origin) return { kind: 'none' };
  if (policy.enabledPerMillion < 1_000_000 && Math.floor(random() * 1_000_000) >= policy.enabledPerMillion) return { kind: 'none' };
  const allowed = originAllowed(policy, req.origin);
  const preflight = req.method === 'OPTIONS' && req.accessControlRequestMethod !== undefined && req.accessControlRequestMethod !== '';
  if (preflight) {
    if (!allowed) return policy.forwardNotMatchingPreflights ? { kind: 'forward', responseHeaders: {} } : { kind: 'preflight', status: 200, headers: {} };
    const h: Record<string, string> = { 'access-control-allow-origin': req.origin };
    if (policy.allowCredentials) h['access-control-allow-credentials'] = 'true';
    if (policy.allowMethods) h['access-control-allow-methods'] = policy.allowMethods;
    if (policy.allowHeaders) h['access-control-allow-headers'] = policy.allowHeaders;
    if (policy.maxAge) h['access-control-max-age'] = policy.maxAge;
    return { kind: 'preflight', status: 200, headers: h };
  }
  if (!allowed) return { kind: 'none' };
  const r: Record<string, string> = { 'access-control-allow-origin': req.origin };
  if (policy.allowCredentials) r['access-control-allow-credentials'] = 'true';
  if (policy.exposeHeaders) r['access-control-expose-headers'] = policy.exposeHeaders;
  return { kind: 'forward', responseHeaders: r };
}
