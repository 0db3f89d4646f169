// Filter chain selection for a terminated CONNECT (pure), in Envoy's order: destination port
// (exact beats unset, no fall-back once an exact port matched), then destination IP (longest
// prefix, unset = /0), then application protocol (only known after sniffing; listed beats unset).
import { isIPv4, isIPv6 } from 'node:net';
import type { CidrRange, FilterChain } from '../config/types.ts';

export interface ConnectTarget {
  readonly ip: string;
  readonly port: number;
}

export type ChainSelection =
  | { readonly kind: 'none' }
  | { readonly kind: 'chain'; readonly chain: FilterChain }
  /** Some candidates need the application protocol: accept, sniff, then call selectAfterSniff. */
  | { readonly kind: 'sniff'; readonly candidates: readonly FilterChain[] };

export type SniffedProtocol = 'http/1.1' | 'h2c' | 'tcp';

export function selectFilterChain(chains: readonly FilterChain[], target: ConnectTarget): ChainSelection {
  const exactPort = chains.filter((c) => c.match.destinationPort === target.port);
  const byPort = exactPort.length > 0 ? exactPort : chains.filter((c) => c.match.destinationPort === undefined);
  let best = -1;
  let byIp: FilterChain[] = [];
  for (const c of byPort) {
    const len = ipMatchLength(c.match.destinationIps, target.ip);
    if (len < 0) continue;
    if (len > best) {
      best = len;
      byIp = [c];
    } else if (len === best) {
      byIp.push(c);
    }
  }
  if (byIp.length === 0) return { kind: 'none' };
  const first = byIp[0]!;
  if (byIp.every((c) => c.match.applicationProtocols === undefined)) return { kind: 'chain', chain: first };
  return { kind: 'sniff', candidates: byIp };
}

/** After sniffing: a chain listing the protocol, else one without a protocol condition. */
export function selectAfterSniff(candidates: readonly FilterChain[], protocol: SniffedProtocol): FilterChain | undefined {
  return candidates.find((c) => c.match.applicationProtocols?.includes(protocol)) ?? candidates.find((c) => c.match.applicationProtocols === undefined);
}

/** Length of the longest matching range; 0 when ranges are unset; -1 when none contains `ip`. */
export function ipMatchLength(ranges: readonly CidrRange[] | undefined, ip: string): number {
  if (ranges === undefined || ranges.length === 0) return 0;
  const addr = ipToBigInt(ip);
  if (!addr) return -1;
  let best = -1;
  for (const r of ranges) {
    const net = ipToBigInt(r.address);
    if (!net || net.bits !== addr.bits) continue;
    const len = Math.max(0, Math.min(r.prefixLen, addr.bits));
    const shift = BigInt(addr.bits - len);
    if (addr.value >> shift === net.value >> shift && len > best) best = len;
  }
  // Envoy ranks a /0 match above an unset IP condition only by being listed; keep it >= 0.
  return best;
}

function ipToBigInt(ip: string): { value: bigint; bits: 32 | 128 } | undefined {
  let text = ip;
  if (text.startsWith('::ffff:') && isIPv4(text.slice(7))) text = text.slice(7);
  if (isIPv4(text)) {
    const v = text.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
    return { value: v, bits: 32 };
  }
  if (!isIPv6(text)) return undefined;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  let groups: string[];
  const dbl = text.indexOf('::');
  const toGroups = (s: string): string[] => {
    if (!s) return [];
    const parts = s.split(':');
    const last = parts[parts.length - 1]!;
    if (last.includes('.')) {
      const o = last.split('.').map(Number);
      parts.splice(parts.length - 1, 1, ((o[0]! << 8) | o[1]!).toString(16), ((o[2]! << 8) | o[3]!).toString(16));
    }
    return parts;
  };
  if (dbl >= 0) {
    const head = toGroups(text.slice(0, dbl));
    const tail = toGroups(text.slice(dbl + 2));
    groups = [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  } else {
    groups = toGroups(text);
  }
  const value = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
  return { value, bits: 128 };
}
