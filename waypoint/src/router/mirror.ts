// Request mirroring decisions (pure; Envoy's request_mirror_policies): which mirror policies fire
// for a request (each drawn on its own, injectable random), and the authority a mirrored request
// carries: `<host>-shadow`, before the port when there is one, unless the policy disables it. The
// mirror is fire-and-forget: the data path sends it and drops its response.
import type { MirrorPolicy } from '../config/types.ts';
import type { Random } from '../router/weighted-pick.ts';

/** The policies that mirror this request, in order. */
export function mirrorsToSend(policies: readonly MirrorPolicy[] | undefined, random: Random = Math.random): MirrorPolicy[] {
  if (!policies?.length) return [];
  return policies.filter((p) => p.perMillion >= 1_000_000 || (p.perMillion > 0 && Math.floor(random() * 1_000_000) < p.perMillion));
}

/** `reviews:9080` → `reviews-shadow:9080`; `[fd00::1]:80` → `[fd00::1]-shadow:80`; `reviews` → `reviews-shadow`. */
export function shadowAuthority(authority: string, policy?: Pick<MirrorPolicy, 'disableShadowHostSuffix'>): string {
  if (policy?.disableShadowHostSuffix || authority === '') return authority;
  const close = authority.startsWith('[') ? authority.indexOf(']') : -1;
  const colon = close >= 0 ? authority.indexOf(':', close) : authority.indexOf(':');
  if (colon < 0 || authority.indexOf(':', colon + 1) >= 0) return `${authority}-shadow`;
  return `${authority.slice(0, colon)}-shadow${authority.slice(colon)}`;
}
