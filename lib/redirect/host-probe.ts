// Node-side probe SNAT (fact sheet §2.3), for the CNI agent to install in the node netns: TCP the
// node itself originates towards an enrolled pod IP leaves with source 169.254.7.127 (v6: the
// fd16:… address), which the pod rules accept without capture, so kubelet probes bypass ztunnel.
// iptables flavour: an ipset of pod IPs and a chain in nat POSTROUTING; nftables flavour: sets and
// chains in inet istio-ambient-nat. Builders and membership commands; pure.
import net from 'node:net';
import { IPTABLES_HOST_POSTRT_CHAIN, NFT_HOST_POSTRT_CHAIN, NFT_NAT_TABLE } from './constants.ts';
import { RedirectError } from './errors.ts';
import type { CommandStep } from './exec.ts';
import { iptablesRules, type IptablesRules } from './iptables-ruleset.ts';
import { dropTableLines, NFT_PRIORITY, type NftTableSpec } from './nft-ruleset.ts';
import { canonicalIpv6, resolveRedirectOptions, type RedirectOptions, type RedirectOptionsInput } from './options.ts';
import { inpodFamilies, type IpFamily } from './rules.ts';

export interface IpsetSpec {
  name: string;
  family: IpFamily;
  /** `ipset create ... -exist`: a no-op when the set exists with the same type. */
  create: string[];
}

export interface HostProbeIptables {
  ipv4: IptablesRules;
  ipv6?: IptablesRules;
  /** Created before the rules (a rule cannot name a missing set), destroyed after them. */
  ipsets: IpsetSpec[];
}

export interface HostProbeNftables {
  /**
   * `nft -f` input that (re)defines our chains and rules but keeps the sets and their members,
   * so re-applying after an agent restart does not forget enrolled pods.
   */
  script: string;
  table: NftTableSpec;
}

export const HOST_IPTABLES_CHAINS: readonly string[] = [IPTABLES_HOST_POSTRT_CHAIN];

export function buildHostProbeIptables(input: RedirectOptionsInput = {}): HostProbeIptables {
  const opts = resolveRedirectOptions(input);
  const forFamily = (family: IpFamily): IptablesRules =>
    iptablesRules(family, [
      {
        table: 'nat',
        chains: [IPTABLES_HOST_POSTRT_CHAIN],
        // First in POSTROUTING, ahead of the primary CNI's masquerade rules.
        jumps: [{ from: 'POSTROUTING', to: IPTABLES_HOST_POSTRT_CHAIN, first: true }],
        rules: [
          // --socket-exists: only packets of local sockets, i.e. the node's own (kubelet's) connections.
          `-A ${IPTABLES_HOST_POSTRT_CHAIN} -p tcp -m owner --socket-exists -m set --match-set ${setName(opts, family)} dst -j SNAT --to-source ${snatAddress(opts, family)}`,
        ],
      },
    ]);
  return {
    ipv4: forFamily('ipv4'),
    ...(opts.ipv6 ? { ipv6: forFamily('ipv6') } : {}),
    ipsets: inpodFamilies(opts).map((family) => ({
      name: setName(opts, family),
      family,
      create: ['ipset', 'create', setName(opts, family), 'hash:ip', 'family', family === 'ipv4' ? 'inet' : 'inet6', '-exist'],
    })),
  };
}

export function buildHostProbeNftables(input: RedirectOptionsInput = {}): HostProbeNftables {
  const opts = resolveRedirectOptions(input);
  const t = `inet ${NFT_NAT_TABLE}`;
  const families = inpodFamilies(opts);
  const table: NftTableSpec = {
    family: 'inet',
    name: NFT_NAT_TABLE,
    sets: families.map((f) => ({ name: setName(opts, f), type: f === 'ipv4' ? 'ipv4_addr' : 'ipv6_addr' })),
    chains: [
      { name: 'postrouting', base: { type: 'nat', hook: 'postrouting', priority: NFT_PRIORITY['srcnat']! }, rules: [`jump ${NFT_HOST_POSTRT_CHAIN}`] },
      {
        name: NFT_HOST_POSTRT_CHAIN,
        // nft has no --socket-exists: kubelet's UID stands for "the node's own probe connections".
        rules: families.map((f) => {
          const ip = f === 'ipv4' ? 'ip' : 'ip6';
          return `meta skuid ${opts.kubeletUid} ${ip} daddr @${setName(opts, f)} meta l4proto tcp snat ${ip} to ${snatAddress(opts, f)}`;
        }),
      },
    ],
  };
  const lines = [`add table ${t}`];
  for (const s of table.sets) lines.push(`add set ${t} ${s.name} { type ${s.type}; }`);
  for (const c of table.chains) {
    const b = c.base;
    lines.push(b ? `add chain ${t} ${c.name} { type ${b.type} hook ${b.hook} priority ${b.priority}; policy accept; }` : `add chain ${t} ${c.name}`);
  }
  for (const c of table.chains) lines.push(`flush chain ${t} ${c.name}`);
  // A v6 set left from when IPv6 was on: its rule went with the flush, so it can go now.
  if (!opts.ipv6) lines.push(`add set ${t} ${opts.probeSetIpv6} { type ipv6_addr; }`, `delete set ${t} ${opts.probeSetIpv6}`);
  for (const c of table.chains) for (const r of c.rules) lines.push(`add rule ${t} ${c.name} ${r}`);
  return { script: `${lines.join('\n')}\n`, table };
}

/** `nft -f` input removing the host table, sets and members included. */
export function removeHostProbeNftScript(): string {
  return `${dropTableLines('inet', NFT_NAT_TABLE).join('\n')}\n`;
}

/**
 * Commands that add pod IPs to (or remove them from) the probe sets; both are idempotent.
 * An IPv6 address while IPv6 is off is a caller error.
 */
export function probeTargetSteps(ips: readonly string[], op: 'add' | 'remove', flavour: 'iptables' | 'nftables', input: RedirectOptionsInput = {}): CommandStep[] {
  const opts = resolveRedirectOptions(input);
  const byFamily = groupByFamily(ips, opts);
  if (flavour === 'iptables') {
    return byFamily.flatMap(([family, addrs]) =>
      addrs.map((ip) => ({ argv: ['ipset', op === 'add' ? 'add' : 'del', setName(opts, family), ip, '-exist'] })),
    );
  }
  const t = `inet ${NFT_NAT_TABLE}`;
  const lines: string[] = [];
  for (const [family, addrs] of byFamily) {
    if (!addrs.length) continue;
    const elems = `{ ${addrs.join(', ')} }`;
    lines.push(`add element ${t} ${setName(opts, family)} ${elems}`);
    // nft refuses to delete a missing element: adding it first in the same transaction makes removal idempotent.
    if (op === 'remove') lines.push(`delete element ${t} ${setName(opts, family)} ${elems}`);
  }
  return lines.length ? [{ argv: ['nft', '-f', '-'], stdin: `${lines.join('\n')}\n` }] : [];
}

function groupByFamily(ips: readonly string[], opts: RedirectOptions): [IpFamily, string[]][] {
  const v4: string[] = [];
  const v6: string[] = [];
  for (const ip of ips) {
    if (net.isIPv4(ip)) v4.push(ip);
    else if (net.isIPv6(ip) && opts.ipv6) v6.push(canonicalIpv6(ip));
    else throw new RedirectError('INVALID_OPTIONS', `probe target ${JSON.stringify(ip)} is not an IPv4${opts.ipv6 ? ' or IPv6' : ''} address`);
  }
  return [
    ['ipv4', v4],
    ['ipv6', v6],
  ];
}

function setName(o: RedirectOptions, f: IpFamily): string {
  return f === 'ipv4' ? o.probeSetIpv4 : o.probeSetIpv6;
}

function snatAddress(o: RedirectOptions, f: IpFamily): string {
  return f === 'ipv4' ? o.probeSnatIpv4 : o.probeSnatIpv6;
}
