// The one options object every builder reads: ports, marks, addresses, routing and set names, with
// Istio's defaults, plus the per-pod switches (DNS capture, IPv6, ingress mode, virtual interfaces).
// Resolving validates everything that ends up inside rule text, so no builder has to.
import net from 'node:net';
import * as C from './constants.ts';
import { RedirectError } from './errors.ts';

export interface RedirectOptions {
  outboundPort: number;
  inboundPlaintextPort: number;
  inboundHbonePort: number;
  dnsCapturePort: number;
  /** Mark on ztunnel's sockets and the mask the rules compare it under. */
  packetMark: number;
  packetMask: number;
  /** Connmark for connections ztunnel originates in the pod, and its mask. */
  tproxyMark: number;
  tproxyMask: number;
  routeTable: number;
  rulePriority: number;
  probeSnatIpv4: string;
  probeSnatIpv6: string;
  probeSetIpv4: string;
  probeSetIpv6: string;
  dnsConntrackZone: number;
  /** UID the nft host rule SNATs (kubelet's); the iptables flavour uses --socket-exists instead. */
  kubeletUid: number;
  /** Capture DNS (UDP and TCP 53) to the DNS proxy port. Istio's default: on. */
  dnsCapture: boolean;
  /** Also program IPv6 (ip6tables, v6 nft rules, v6 policy routing). */
  ipv6: boolean;
  /** `ambient.istio.io/bypass-inbound-capture`: leave inbound traffic alone (probe accept and 15006 redirect). */
  ingressMode: boolean;
  /** `istio.io/reroute-virtual-interfaces`: TCP arriving on these interfaces is treated as outbound. */
  rerouteVirtualInterfaces: readonly string[];
}

export type RedirectOptionsInput = Partial<RedirectOptions>;

export const DEFAULT_REDIRECT_OPTIONS: Readonly<RedirectOptions> = Object.freeze({
  outboundPort: C.OUTBOUND_PORT,
  inboundPlaintextPort: C.INBOUND_PLAINTEXT_PORT,
  inboundHbonePort: C.INBOUND_HBONE_PORT,
  dnsCapturePort: C.DNS_CAPTURE_PORT,
  packetMark: C.INPOD_MARK,
  packetMask: C.INPOD_MASK,
  tproxyMark: C.INPOD_TPROXY_MARK,
  tproxyMask: C.INPOD_TPROXY_MASK,
  routeTable: C.INPOD_ROUTE_TABLE,
  rulePriority: C.INPOD_RULE_PRIORITY,
  probeSnatIpv4: C.PROBE_SNAT_IPV4,
  probeSnatIpv6: C.PROBE_SNAT_IPV6,
  probeSetIpv4: C.PROBE_SET_IPV4,
  probeSetIpv6: C.PROBE_SET_IPV6,
  dnsConntrackZone: C.DNS_CONNTRACK_ZONE,
  kubeletUid: C.KUBELET_UID,
  dnsCapture: true,
  ipv6: false,
  ingressMode: false,
  rerouteVirtualInterfaces: Object.freeze([]) as readonly string[],
});

/** Defaults filled in and every field checked; throws RedirectError INVALID_OPTIONS naming the field. */
export function resolveRedirectOptions(input: RedirectOptionsInput = {}): RedirectOptions {
  const o: RedirectOptions = { ...DEFAULT_REDIRECT_OPTIONS };
  const given = input as Record<string, unknown>;
  for (const k of Object.keys(DEFAULT_REDIRECT_OPTIONS)) {
    // An explicit `undefined` means "default"; keys we do not know are not carried along.
    if (given[k] !== undefined) (o as unknown as Record<string, unknown>)[k] = given[k];
  }
  for (const k of ['outboundPort', 'inboundPlaintextPort', 'inboundHbonePort', 'dnsCapturePort'] as const) {
    checkInt(k, o[k], 1, 65535);
  }
  for (const k of ['packetMark', 'packetMask', 'tproxyMark', 'tproxyMask'] as const) checkInt(k, o[k], 0, 0xffffffff);
  checkInt('routeTable', o.routeTable, 1, 0xfffffffe);
  checkInt('rulePriority', o.rulePriority, 1, 0xffffffff);
  checkInt('dnsConntrackZone', o.dnsConntrackZone, 0, 0xffff);
  checkInt('kubeletUid', o.kubeletUid, 0, 0xfffffffe);
  if (net.isIPv4(o.probeSnatIpv4) === false) invalid('probeSnatIpv4', o.probeSnatIpv4);
  if (net.isIPv6(o.probeSnatIpv6) === false) invalid('probeSnatIpv6', o.probeSnatIpv6);
  // iptables-save and nft print IPv6 compressed; the drift check compares text, so match them.
  o.probeSnatIpv6 = canonicalIpv6(o.probeSnatIpv6);
  for (const k of ['probeSetIpv4', 'probeSetIpv6'] as const) {
    // ipset names: at most 31 characters; nft set names share the rule text, so keep them plain.
    if (!/^[A-Za-z0-9_.-]{1,31}$/.test(o[k])) invalid(k, o[k]);
  }
  for (const k of ['dnsCapture', 'ipv6', 'ingressMode'] as const) {
    if (typeof o[k] !== 'boolean') invalid(k, o[k]);
  }
  if (!Array.isArray(o.rerouteVirtualInterfaces)) invalid('rerouteVirtualInterfaces', o.rerouteVirtualInterfaces);
  o.rerouteVirtualInterfaces.forEach((name, i) => {
    if (!isInterfaceName(name)) invalid(`rerouteVirtualInterfaces[${i}]`, name);
  });
  o.rerouteVirtualInterfaces = Object.freeze([...o.rerouteVirtualInterfaces]);
  return o;
}

/**
 * Interface names as both flavours read them literally: 1..15 plain characters. '+' (an iptables
 * wildcard, literal to nft) and quotes would make the two flavours or the rule text disagree.
 */
export function isInterfaceName(name: unknown): name is string {
  return typeof name === 'string' && /^[A-Za-z0-9_.-]{1,15}$/.test(name) && name !== '.' && name !== '..';
}

/** RFC 5952 text of an IPv6 address (what the netfilter tools print): lower case, longest zero run compressed. */
export function canonicalIpv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

function checkInt(field: string, v: unknown, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) invalid(field, v, `an integer in ${min}..${max}`);
}

function invalid(field: string, v: unknown, want?: string): never {
  throw new RedirectError('INVALID_OPTIONS', `redirect options: ${field}${want ? ` must be ${want}` : ' is invalid'}, got ${JSON.stringify(v)}`);
}
