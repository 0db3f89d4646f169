// The chain's result as this plugin handles it: we change nothing, so ADD's result is prevResult
// as given, under the config's cniVersion. Also reads the pod IPs out of it for the agent event.
import { isIP } from 'node:net';

/** A CNI result object (interfaces, ips, routes, dns, ...), kept as the JSON we were given. */
export type CniResult = Record<string, unknown>;

/** ADD's stdout: prevResult passed through unchanged, labelled with the version of this call. */
export function renderPassThrough(prevResult: CniResult, cniVersion: string): string {
  return `${JSON.stringify({ ...prevResult, cniVersion })}\n`;
}

/** The addresses in prevResult.ips[].address (CIDR), without prefix length. */
export function resultIps(prevResult: CniResult, path = 'config.prevResult'): { ok: true; ips: string[] } | { ok: false; errors: string[] } {
  const list = prevResult.ips;
  if (list === undefined) return { ok: true, ips: [] };
  if (!Array.isArray(list)) return { ok: false, errors: [`${path}.ips: must be a list`] };
  const ips: string[] = [];
  const errors: string[] = [];
  list.forEach((entry: unknown, i) => {
    const address = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>).address : undefined;
    const ip = typeof address === 'string' ? address.split('/')[0] ?? '' : '';
    if (typeof address === 'string' && address.includes('/') && isIP(ip)) ips.push(ip);
    else errors.push(`${path}.ips[${i}].address: must be an IP address in CIDR form, got ${JSON.stringify(address)}`);
  });
  return errors.length ? { ok: false, errors } : { ok: true, ips };
}
