// Spelling one rule of the in-pod model as an nftables rule, exactly as `nft list` prints it back
// (nftables 1.0: marks as 8-digit hex, a masked ct mark set folded into one and/or pair). Writing
// the printed form is what lets the drift check compare installed and wanted rules as text.
import type { InpodRule, RuleAction } from './rules.ts';

export function hex8(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

/**
 * `ipv6` says whether the rule set covers IPv6 at all: when it does not, family-neutral rules are
 * limited to IPv4 so an inet table leaves IPv6 exactly as alone as the iptables flavour does.
 */
export function renderNftRule(rule: InpodRule, ipv6: boolean): string {
  const p: string[] = [];
  if (rule.family === 'any' && !ipv6) p.push('meta nfproto ipv4');
  // A family rule normally names an address, which limits it already; without one, say so.
  if (rule.family !== 'any' && rule.saddr === undefined && !rule.daddr) p.push(`meta nfproto ${rule.family}`);
  const ip = rule.family === 'ipv6' ? 'ip6' : 'ip';
  if (rule.inIface !== undefined) p.push(`iifname "${rule.inIface}"`);
  if (rule.outIface) p.push(`oifname ${cmp(rule.outIface.negate)}"${rule.outIface.name}"`);
  if (rule.saddr !== undefined) p.push(`${ip} saddr ${rule.saddr}`);
  if (rule.daddr) p.push(`${ip} daddr ${cmp(rule.daddr.negate)}${rule.daddr.address}`);
  if (rule.sport !== undefined || rule.dport) {
    if (!rule.proto) throw new Error(`in-pod rule ${rule.id}: a port match needs a protocol`);
    if (rule.sport !== undefined) p.push(`${rule.proto} sport ${rule.sport}`);
    if (rule.dport) p.push(`${rule.proto} dport ${cmp(rule.dport.negate)}${rule.dport.port}`);
  } else if (rule.proto) {
    p.push(`meta l4proto ${rule.proto}`);
  }
  if (rule.mark) p.push(`meta mark & ${hex8(rule.mark.mask)} ${rule.mark.negate ? '!=' : '=='} ${hex8(rule.mark.value)}`);
  if (rule.connmark) p.push(`ct mark & ${hex8(rule.connmark.mask)} == ${hex8(rule.connmark.value)}`);
  p.push(statement(rule.action));
  return p.join(' ');
}

function statement(a: RuleAction): string {
  switch (a.kind) {
    case 'accept':
      return 'accept';
    case 'return':
      return 'return';
    case 'redirect':
      return `redirect to :${a.port}`;
    case 'set-connmark':
      // (ct mark & ~mask) | value: nft keeps the bits of `value` in the and-mask when it prints
      // this back, so spell it that way (the same operation either way).
      return `ct mark set ct mark & ${hex8(~a.mask | a.value)} | ${hex8(a.value)}`;
    case 'restore-mark':
      return 'meta mark set ct mark';
    case 'ct-zone':
      return `ct zone set ${a.zone}`;
  }
}

function cmp(negate: boolean): string {
  return negate ? '!= ' : '';
}
