// The xDS server's authenticate hook: callers authenticated as the CA does (bearer token →
// TokenReview, audience istio-ca); a refusal ends the stream with UNAUTHENTICATED, is logged once
// and counted by reason. A TokenReview error is not a refusal (the stream ends UNAVAILABLE).
import type { Logger } from '../../../lib/log/logger.ts';
import type { Registry } from '../../../lib/metrics/registry.ts';
import type { XdsAuthContext, XdsAuthResult } from '../../../lib/xds/index.ts';
import type { Caller } from '../ca/authorize.ts';
import { authenticateCaller, type TokenReviewResult } from '../ca/authenticate.ts';

export function xdsAuthenticator(d: { reviewToken: (token: string) => Promise<TokenReviewResult>; log: Logger; registry: Registry }): (ctx: XdsAuthContext) => Promise<XdsAuthResult<Caller>> {
  const failures = d.registry.counter('pilot_xds_auth_failures_total', 'xDS streams refused because the caller could not be authenticated, by reason', ['reason']);
  return async (ctx) => {
    const r = await authenticateCaller(ctx.metadata, d.reviewToken);
    if (r.ok) return r;
    failures.inc({ reason: r.reason });
    d.log.warn({ peer: ctx.peer, reason: r.reason, detail: r.detail }, 'xDS caller refused');
    return { ok: false, message: 'caller not authenticated (want a service-account bearer token, audience istio-ca)' };
  };
}
