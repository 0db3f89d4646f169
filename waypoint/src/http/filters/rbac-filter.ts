// The `envoy.filters.http.rbac` filter on the stream: builds the RBAC view of the request and its
// HBONE connection (target VIP and port, peer principal, source IP), asks filters/rbac.ts, answers
// an enforced denial with Envoy's 403 and records a shadow (dry-run) result without acting on it.
import type { RbacFilterConfig } from '../../config/types.ts';
import { evaluateRbac, rbacDeniedReply, SHADOW_EFFECTIVE_POLICY_ID, SHADOW_ENGINE_RESULT, type RbacRequest } from '../../filters/rbac.ts';
import type { DecodeResult, FilterContext, FilterDeps, HttpFilter } from '../filter.ts';
import { headerValue, type RequestHead } from '../headers.ts';

/** `10.0.0.1:4000` / `[fd00::1]:4000` → the IP. */
export function ipOf(address: string): string {
  if (address.startsWith('[')) return address.slice(1, address.indexOf(']'));
  const i = address.lastIndexOf(':');
  return i > 0 && address.indexOf(':') === i ? address.slice(0, i) : address;
}

export function rbacRequestOf(head: RequestHead, ctx: FilterContext): RbacRequest {
  const c = ctx.connection;
  return {
    method: head.method,
    path: head.path,
    authority: head.authority,
    scheme: head.scheme,
    headers: { get: (n) => headerValue(head.headers, n) },
    destinationPort: c.targetPort,
    destinationIp: c.targetIp,
    sourceIp: ipOf(c.remoteAddress),
    ...(c.peerPrincipal ? { peerPrincipal: c.peerPrincipal } : {}),
  };
}

export function rbacFilter(config: RbacFilterConfig, deps: FilterDeps): HttpFilter {
  return {
    name: config.name,
    decodeHeaders(head, ctx): DecodeResult {
      const d = evaluateRbac(config, rbacRequestOf(head, ctx));
      if (config.shadow) {
        // Dynamic metadata as Envoy leaves it, for later filters and logs; never a denial.
        ctx.state.set(`${config.statPrefix}${SHADOW_ENGINE_RESULT}`, d.kind === 'allow' ? 'allowed' : 'denied');
        if (d.kind !== 'allow') {
          ctx.state.set(`${config.statPrefix}${SHADOW_EFFECTIVE_POLICY_ID}`, d.policy);
          deps.onEvent?.({ kind: 'rbac-shadow-denied', filter: config.name, statPrefix: config.statPrefix, policy: d.policy });
        }
        return 'continue';
      }
      if (d.kind === 'allow') return 'continue';
      deps.onEvent?.({ kind: 'rbac-denied', filter: config.name, statPrefix: config.statPrefix, policy: d.policy });
      return { localReply: rbacDeniedReply(d.policy) };
    },
  };
}
