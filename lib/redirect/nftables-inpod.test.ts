// Table tests of the nftables in-pod builder: tables, base chains, rule order, and the IPv4-only
// limit on family-neutral rules when IPv6 is off.
import { describe, expect, it } from 'vitest';
import { buildInpodNftables, removeInpodNftScript } from './nftables-inpod.ts';
import type { NftTableSpec } from './nft-ruleset.ts';

function chain(tables: NftTableSpec[], table: string, name: string): string[] {
  return tables.find((t) => t.name === table)?.chains.find((c) => c.name === name)?.rules ?? [];
}

describe('buildInpodNftables (defaults)', () => {
  const r = buildInpodNftables();

  it('builds the three inet tables, each with two base chains jumping to two regular ones', () => {
    expect(r.tables.map((t) => `${t.family} ${t.name}`).sort()).toEqual(['inet istio-ambient-mangle', 'inet istio-ambient-nat', 'inet istio-ambient-raw']);
    for (const t of r.tables) {
      expect(t.chains.map((c) => c.name)).toEqual(['prerouting', 'output', 'istio-prerouting', 'istio-output']);
      expect(chain(r.tables, t.name, 'prerouting')).toEqual(['jump istio-prerouting']);
      expect(chain(r.tables, t.name, 'output')).toEqual(['jump istio-output']);
    }
  });

  it.each([
    ['istio-ambient-nat', 'prerouting', { type: 'nat', hook: 'prerouting', priority: -100 }],
    ['istio-ambient-nat', 'output', { type: 'nat', hook: 'output', priority: -100 }],
    ['istio-ambient-mangle', 'prerouting', { type: 'filter', hook: 'prerouting', priority: -150 }],
    ['istio-ambient-mangle', 'output', { type: 'route', hook: 'output', priority: -150 }],
    ['istio-ambient-raw', 'prerouting', { type: 'filter', hook: 'prerouting', priority: -300 }],
    ['istio-ambient-raw', 'output', { type: 'filter', hook: 'output', priority: -300 }],
  ])('%s %s is a %j base chain', (table, name, base) => {
    expect(r.tables.find((t) => t.name === table)!.chains.find((c) => c.name === name)!.base).toEqual(base);
  });

  it('spells the fact sheet rules, in order, IPv4-only when IPv6 is off', () => {
    expect(chain(r.tables, 'istio-ambient-nat', 'istio-prerouting')).toEqual([
      'ip saddr 169.254.7.127 meta l4proto tcp accept',
      'ip daddr != 127.0.0.1 tcp dport != 15008 meta mark & 0x00000fff != 0x00000539 redirect to :15006',
    ]);
    expect(chain(r.tables, 'istio-ambient-nat', 'istio-output')).toEqual([
      'ip daddr 169.254.7.127 meta l4proto tcp accept',
      'meta nfproto ipv4 oifname != "lo" udp dport 53 meta mark & 0x00000fff != 0x00000539 redirect to :15053',
      'ip daddr != 127.0.0.1 tcp dport 53 meta mark & 0x00000fff != 0x00000539 redirect to :15053',
      'meta nfproto ipv4 meta l4proto tcp meta mark & 0x00000fff == 0x00000111 accept',
      'oifname "lo" ip daddr != 127.0.0.1 accept',
      'ip daddr != 127.0.0.1 meta l4proto tcp meta mark & 0x00000fff != 0x00000539 redirect to :15001',
    ]);
    expect(chain(r.tables, 'istio-ambient-mangle', 'istio-prerouting')).toEqual([
      // (ct mark & ~0xfff) | 0x111, as nft prints it back.
      'meta nfproto ipv4 meta mark & 0x00000fff == 0x00000539 ct mark set ct mark & 0xfffff111 | 0x00000111',
    ]);
    expect(chain(r.tables, 'istio-ambient-mangle', 'istio-output')).toEqual(['meta nfproto ipv4 ct mark & 0x00000fff == 0x00000111 meta mark set ct mark']);
    expect(chain(r.tables, 'istio-ambient-raw', 'istio-prerouting')).toEqual(['meta nfproto ipv4 udp sport 53 meta mark & 0x00000fff != 0x00000539 ct zone set 1']);
    expect(chain(r.tables, 'istio-ambient-raw', 'istio-output')).toEqual(['meta nfproto ipv4 udp dport 53 meta mark & 0x00000fff == 0x00000539 ct zone set 1']);
  });

  it('renders one idempotent nft -f script: drop all three tables, then define', () => {
    const lines = r.script.split('\n');
    expect(lines.slice(0, 6)).toEqual([
      'add table inet istio-ambient-nat',
      'delete table inet istio-ambient-nat',
      'add table inet istio-ambient-mangle',
      'delete table inet istio-ambient-mangle',
      'add table inet istio-ambient-raw',
      'delete table inet istio-ambient-raw',
    ]);
    expect(lines.filter((l) => l.startsWith('table '))).toHaveLength(3);
    expect(r.script).toContain('\t\ttype route hook output priority -150; policy accept;\n\t\tjump istio-output\n');
    expect(removeInpodNftScript()).toBe(`${lines.slice(0, 6).join('\n')}\n`);
  });

  it('shares the policy routing with the iptables flavour', () => {
    expect(r.routing.map((x) => x.family)).toEqual(['ipv4']);
  });
});

describe('buildInpodNftables options', () => {
  it('with IPv6: v6 twins of the address rules, neutral rules cover both families', () => {
    const r = buildInpodNftables({ ipv6: true });
    expect(chain(r.tables, 'istio-ambient-nat', 'istio-prerouting')).toEqual([
      'ip saddr 169.254.7.127 meta l4proto tcp accept',
      'ip6 saddr fd16:9254:7127:1337:ffff:ffff:ffff:ffff meta l4proto tcp accept',
      'ip daddr != 127.0.0.1 tcp dport != 15008 meta mark & 0x00000fff != 0x00000539 redirect to :15006',
      'ip6 daddr != ::1 tcp dport != 15008 meta mark & 0x00000fff != 0x00000539 redirect to :15006',
    ]);
    expect(chain(r.tables, 'istio-ambient-nat', 'istio-output')).toContain('oifname != "lo" udp dport 53 meta mark & 0x00000fff != 0x00000539 redirect to :15053');
    expect(r.script).not.toContain('meta nfproto');
    expect(r.routing.map((x) => x.family)).toEqual(['ipv4', 'ipv6']);
  });

  it('without DNS capture: no raw table, no port 53 rules', () => {
    const r = buildInpodNftables({ dnsCapture: false });
    expect(r.tables.map((t) => t.name)).toEqual(['istio-ambient-mangle', 'istio-ambient-nat']);
    expect(r.script).not.toMatch(/dport 53|sport 53|15053|ct zone/);
    // The raw table is still dropped, so turning DNS capture off removes it from a live pod.
    expect(r.script).toContain('delete table inet istio-ambient-raw');
  });

  it('honours custom ports and marks', () => {
    const r = buildInpodNftables({ outboundPort: 25001, inboundPlaintextPort: 25006, inboundHbonePort: 25008, dnsCapturePort: 25053, packetMark: 0x777, tproxyMark: 0x222 });
    expect(r.script).toContain('tcp dport != 25008 meta mark & 0x00000fff != 0x00000777 redirect to :25006');
    expect(r.script).toContain('redirect to :25001');
    expect(r.script).toContain('redirect to :25053');
    expect(r.script).toContain('ct mark set ct mark & 0xfffff222 | 0x00000222');
    expect(r.script).not.toMatch(/1500[168]|15053|0x00000539|0x00000111/);
  });
});
