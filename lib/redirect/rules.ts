// The in-pod rule set as data, independent of iptables or nftables (fact sheet §2.2): which packets
// each hook matches and what it does with them, in Istio's order. Both renderers read this list, so
// the two flavours cannot drift apart in logic, only in spelling.
import { DNS_PORT } from './constants.ts';
import type { RedirectOptions } from './options.ts';

export type IpFamily = 'ipv4' | 'ipv6';
/** 'any' rules carry no address, so one rule serves both families. */
export type RuleFamily = IpFamily | 'any';
export type InpodTable = 'mangle' | 'nat' | 'raw';
/** prerouting = ISTIO_PRERT / istio-prerouting, output = ISTIO_OUTPUT / istio-output. */
export type InpodHook = 'prerouting' | 'output';

export type RuleAction =
  | { kind: 'accept' }
  | { kind: 'return' }
  | { kind: 'redirect'; port: number }
  | { kind: 'set-connmark'; value: number; mask: number }
  /** Copy the whole connmark onto the packet mark (restore-mark with full masks). */
  | { kind: 'restore-mark' }
  | { kind: 'ct-zone'; zone: number };

export interface MarkMatch {
  value: number;
  mask: number;
  negate: boolean;
}

export interface InpodRule {
  /** What the rule is for; stable, used in tests and to explain drift. */
  id: string;
  table: InpodTable;
  hook: InpodHook;
  family: RuleFamily;
  inIface?: string;
  outIface?: { name: string; negate: boolean };
  /** Single host addresses (a /32 or /128). */
  saddr?: string;
  daddr?: { address: string; negate: boolean };
  proto?: 'tcp' | 'udp';
  sport?: number;
  dport?: { port: number; negate: boolean };
  mark?: MarkMatch;
  connmark?: { value: number; mask: number };
  action: RuleAction;
}

export const LOOPBACK: Readonly<Record<IpFamily, string>> = { ipv4: '127.0.0.1', ipv6: '::1' };

export function inpodFamilies(opts: RedirectOptions): IpFamily[] {
  return opts.ipv6 ? ['ipv4', 'ipv6'] : ['ipv4'];
}

/** Tables the rule set uses: raw only carries the DNS conntrack-zone rules. */
export function inpodTables(opts: RedirectOptions): InpodTable[] {
  return opts.dnsCapture ? ['mangle', 'nat', 'raw'] : ['mangle', 'nat'];
}

/**
 * Every in-pod rule, prerouting first, then output, each in the fact sheet's order. Per-family
 * rules come as a v4/v6 pair at the position of the rule they spell out.
 */
export function planInpodRules(opts: RedirectOptions): InpodRule[] {
  return [...prerouting(opts), ...output(opts)];
}

function prerouting(o: RedirectOptions): InpodRule[] {
  const fams = inpodFamilies(o);
  const notOurs: MarkMatch = { value: o.packetMark, mask: o.packetMask, negate: true };
  const rules: InpodRule[] = [];
  for (const iface of o.rerouteVirtualInterfaces) {
    // A virtual interface (e.g. a KubeVirt VM's tap) carries the workload's own outbound traffic.
    rules.push({ id: 'virtual-interface-outbound', table: 'nat', hook: 'prerouting', family: 'any', inIface: iface, proto: 'tcp', action: { kind: 'redirect', port: o.outboundPort } });
    rules.push({ id: 'virtual-interface-return', table: 'nat', hook: 'prerouting', family: 'any', inIface: iface, proto: 'tcp', action: { kind: 'return' } });
  }
  // ztunnel's delivery to the app loops through lo: remember the connection so replies find their way back.
  rules.push({ id: 'mark-ztunnel-connection', table: 'mangle', hook: 'prerouting', family: 'any', mark: { value: o.packetMark, mask: o.packetMask, negate: false }, action: { kind: 'set-connmark', value: o.tproxyMark, mask: o.tproxyMask } });
  if (!o.ingressMode) {
    for (const f of fams) {
      rules.push({ id: 'accept-probe', table: 'nat', hook: 'prerouting', family: f, saddr: probeAddress(o, f), proto: 'tcp', action: { kind: 'accept' } });
    }
    for (const f of fams) {
      rules.push({ id: 'inbound-plaintext', table: 'nat', hook: 'prerouting', family: f, daddr: { address: LOOPBACK[f], negate: true }, proto: 'tcp', dport: { port: o.inboundHbonePort, negate: true }, mark: notOurs, action: { kind: 'redirect', port: o.inboundPlaintextPort } });
    }
  }
  if (o.dnsCapture) {
    rules.push({ id: 'dns-reply-zone', table: 'raw', hook: 'prerouting', family: 'any', proto: 'udp', sport: DNS_PORT, mark: notOurs, action: { kind: 'ct-zone', zone: o.dnsConntrackZone } });
  }
  return rules;
}

function output(o: RedirectOptions): InpodRule[] {
  const fams = inpodFamilies(o);
  const notOurs: MarkMatch = { value: o.packetMark, mask: o.packetMask, negate: true };
  const rules: InpodRule[] = [];
  for (const f of fams) {
    rules.push({ id: 'accept-probe-reply', table: 'nat', hook: 'output', family: f, daddr: { address: probeAddress(o, f), negate: false }, proto: 'tcp', action: { kind: 'accept' } });
  }
  rules.push({ id: 'restore-ztunnel-mark', table: 'mangle', hook: 'output', family: 'any', connmark: { value: o.tproxyMark, mask: o.tproxyMask }, action: { kind: 'restore-mark' } });
  if (o.dnsCapture) {
    rules.push({ id: 'dns-udp', table: 'nat', hook: 'output', family: 'any', outIface: { name: 'lo', negate: true }, proto: 'udp', dport: { port: DNS_PORT, negate: false }, mark: notOurs, action: { kind: 'redirect', port: o.dnsCapturePort } });
    for (const f of fams) {
      rules.push({ id: 'dns-tcp', table: 'nat', hook: 'output', family: f, daddr: { address: LOOPBACK[f], negate: true }, proto: 'tcp', dport: { port: DNS_PORT, negate: false }, mark: notOurs, action: { kind: 'redirect', port: o.dnsCapturePort } });
    }
    rules.push({ id: 'dns-upstream-zone', table: 'raw', hook: 'output', family: 'any', proto: 'udp', dport: { port: DNS_PORT, negate: false }, mark: { ...notOurs, negate: false }, action: { kind: 'ct-zone', zone: o.dnsConntrackZone } });
  }
  // The mangle restore above put the connmark on the packet: a reply to a ztunnel delivery.
  rules.push({ id: 'accept-ztunnel-reply', table: 'nat', hook: 'output', family: 'any', proto: 'tcp', mark: { value: o.tproxyMark, mask: o.tproxyMask, negate: false }, action: { kind: 'accept' } });
  for (const f of fams) {
    // The app calling its own pod IP goes out lo; it must not loop through ztunnel.
    rules.push({ id: 'accept-local', table: 'nat', hook: 'output', family: f, daddr: { address: LOOPBACK[f], negate: true }, outIface: { name: 'lo', negate: false }, action: { kind: 'accept' } });
  }
  for (const f of fams) {
    rules.push({ id: 'outbound', table: 'nat', hook: 'output', family: f, daddr: { address: LOOPBACK[f], negate: true }, proto: 'tcp', mark: notOurs, action: { kind: 'redirect', port: o.outboundPort } });
  }
  return rules;
}

function probeAddress(o: RedirectOptions, f: IpFamily): string {
  return f === 'ipv4' ? o.probeSnatIpv4 : o.probeSnatIpv6;
}

/** Rules of one family: its own plus the family-neutral ones. */
export function rulesForFamily(rules: readonly InpodRule[], family: IpFamily): InpodRule[] {
  return rules.filter((r) => r.family === 'any' || r.family === family);
}
