// Spelling one rule of the in-pod model as an iptables rule line, exactly as `iptables-save`
// prints it (the iptables-nft 1.8 canonical order: -s -d -i -o -p, matches, target). Writing the
// canonical form is what lets the drift check compare installed and wanted rules as text.
import type { InpodRule, IpFamily, RuleAction } from './rules.ts';

export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

export function hostPrefix(address: string, family: IpFamily): string {
  return `${address}/${family === 'ipv4' ? 32 : 128}`;
}

/** `-A <chain> ...` for a rule of the given family (the caller filtered the rule to it). */
export function renderIptablesRule(rule: InpodRule, family: IpFamily, chain: string): string {
  const p: string[] = ['-A', chain];
  if (rule.saddr !== undefined) p.push('-s', hostPrefix(rule.saddr, family));
  if (rule.daddr) p.push(...not(rule.daddr.negate), '-d', hostPrefix(rule.daddr.address, family));
  if (rule.inIface !== undefined) p.push('-i', rule.inIface);
  if (rule.outIface) p.push(...not(rule.outIface.negate), '-o', rule.outIface.name);
  if (rule.proto) p.push('-p', rule.proto);
  if (rule.sport !== undefined || rule.dport) {
    if (!rule.proto) throw new Error(`in-pod rule ${rule.id}: a port match needs a protocol`);
    p.push('-m', rule.proto);
    if (rule.sport !== undefined) p.push('--sport', String(rule.sport));
    if (rule.dport) p.push(...not(rule.dport.negate), '--dport', String(rule.dport.port));
  }
  if (rule.mark) p.push('-m', 'mark', ...not(rule.mark.negate), '--mark', `${hex(rule.mark.value)}/${hex(rule.mark.mask)}`);
  if (rule.connmark) p.push('-m', 'connmark', '--mark', `${hex(rule.connmark.value)}/${hex(rule.connmark.mask)}`);
  p.push(...target(rule.action));
  return p.join(' ');
}

function target(a: RuleAction): string[] {
  switch (a.kind) {
    case 'accept':
      return ['-j', 'ACCEPT'];
    case 'return':
      return ['-j', 'RETURN'];
    case 'redirect':
      return ['-j', 'REDIRECT', '--to-ports', String(a.port)];
    case 'set-connmark':
      return ['-j', 'CONNMARK', '--set-xmark', `${hex(a.value)}/${hex(a.mask)}`];
    case 'restore-mark':
      return ['-j', 'CONNMARK', '--restore-mark', '--nfmask', '0xffffffff', '--ctmask', '0xffffffff'];
    case 'ct-zone':
      return ['-j', 'CT', '--zone', String(a.zone)];
  }
}

function not(negate: boolean): string[] {
  return negate ? ['!'] : [];
}
