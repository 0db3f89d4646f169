// The `envoy.filters.http.cors` filter on the stream: the matched route's CorsPolicy decided by
// filters/cors.ts; an allowed preflight is answered here (200 with the Access-Control-* headers),
// an unmatched one goes upstream, and the response of an allowed request gets the allow headers.
import type { CorsFilterConfig } from '../../config/types.ts';
import { decideCors } from '../../filters/cors.ts';
import type { DecodeResult, FilterDeps, HttpFilter } from '../filter.ts';
import { headerValue } from '../headers.ts';

const RESPONSE_HEADERS = 'cors.responseHeaders';

export function corsFilter(config: CorsFilterConfig, deps: FilterDeps): HttpFilter {
  return {
    name: config.name,
    decodeHeaders(head, ctx): DecodeResult {
      const policy = ctx.route.selection?.route.cors;
      if (!policy) return 'continue';
      const origin = headerValue(head.headers, 'origin');
      const acrm = headerValue(head.headers, 'access-control-request-method');
      const d = decideCors(policy, { method: head.method, ...(origin !== undefined ? { origin } : {}), ...(acrm !== undefined ? { accessControlRequestMethod: acrm } : {}) }, deps.random);
      if (d.kind === 'preflight') return { localReply: { status: d.status, body: '', flags: [], details: 'cors_response', headers: d.headers } };
      if (d.kind === 'forward' && Object.keys(d.responseHeaders).length > 0) ctx.state.set(RESPONSE_HEADERS, d.responseHeaders);
      return 'continue';
    },
    encodeHeaders(response, ctx): void {
      const add = ctx.state.get(RESPONSE_HEADERS) as Record<string, string> | undefined;
      if (add) Object.assign(response.headers, add);
    },
  };
}
