// Table tests of the iptables in-pod builder: the fact sheet's rules, in its order, per table and
// family, and how the options (DNS, IPv6, ports, ingress mode, virtual interfaces) change them.
import { describe, expect, it } from 'vitest';
import { buildInpodIptables } from './iptables-inpod.ts';
import type { IptablesRules } from './iptables-ruleset.ts';
import { planInpodRules } from './rules.ts';
import { resolveRedirectOptions } from './options.ts';

function chainRules(r: IptablesRules, table: string, chain: string): string[] {
  const t = r.tables.find((x) => x.table === table);
  return (t?.rules ?? []).filter((l) => l.startsWith(`-A ${chain} `));
}

describe('planInpodRules', () => {
  it('follows the fact sheet order in both hooks (all options on)', () => {
    const rules = planInpodRules(resolveRedirectOptions({ rerouteVirtualInterfaces: ['tap0'] }));
    expect(rules.filter((r) => r.hook === 'prerouting').map((r) => r.id)).toEqual([
      'virtual-interface-outbound',
      'virtual-interface-return',
      'mark-ztunnel-connection',
      'accept-probe',
      'inbound-plaintext',
      'dns-reply-zone',
    ]);
    expect(rules.filter((r) => r.hook === 'output').map((r) => r.id)).toEqual([
      'accept-probe-reply',
      'restore-ztunnel-mark',
      'dns-udp',
      'dns-tcp',
      'dns-upstream-zone',
      'accept-ztunnel-reply',
      'accept-local',
      'outbound',
    ]);
  });
});

describe('buildInpodIptables (defaults)', () => {
  const r = buildInpodIptables();

  it('programs IPv4 only, in mangle, nat and raw', () => {
    expect(r.ipv6).toBeUndefined();
    expect(r.ipv4.family).toBe('ipv4');
    expect(r.ipv4.tables.map((t) => t.table)).toEqual(['mangle', 'nat', 'raw']);
    for (const t of r.ipv4.tables) expect(t.chains).toEqual(['ISTIO_PRERT', 'ISTIO_OUTPUT']);
  });

  it.each([
    ['mangle', ['-A PREROUTING -j ISTIO_PRERT', '-A OUTPUT -j ISTIO_OUTPUT']],
    ['nat', ['-A OUTPUT -j ISTIO_OUTPUT', '-A PREROUTING -j ISTIO_PRERT']],
    ['raw', ['-A PREROUTING -j ISTIO_PRERT', '-A OUTPUT -j ISTIO_OUTPUT']],
  ])('jumps from the built-in chains of %s', (table, jumps) => {
    const t = r.ipv4.tables.find((x) => x.table === table)!;
    expect(t.jumps.map((j) => `-A ${j.from} -j ${j.to}`)).toEqual(jumps);
    expect(t.jumps.every((j) => !j.first)).toBe(true);
  });

  it.each([
    ['mangle', 'ISTIO_PRERT', ['-A ISTIO_PRERT -m mark --mark 0x539/0xfff -j CONNMARK --set-xmark 0x111/0xfff']],
    ['nat', 'ISTIO_PRERT', [
      '-A ISTIO_PRERT -s 169.254.7.127/32 -p tcp -j ACCEPT',
      '-A ISTIO_PRERT ! -d 127.0.0.1/32 -p tcp -m tcp ! --dport 15008 -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15006',
    ]],
    ['raw', 'ISTIO_PRERT', ['-A ISTIO_PRERT -p udp -m udp --sport 53 -m mark ! --mark 0x539/0xfff -j CT --zone 1']],
    ['mangle', 'ISTIO_OUTPUT', ['-A ISTIO_OUTPUT -m connmark --mark 0x111/0xfff -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff']],
    ['nat', 'ISTIO_OUTPUT', [
      '-A ISTIO_OUTPUT -d 169.254.7.127/32 -p tcp -j ACCEPT',
      '-A ISTIO_OUTPUT ! -o lo -p udp -m udp --dport 53 -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15053',
      '-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -p tcp -m tcp --dport 53 -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15053',
      '-A ISTIO_OUTPUT -p tcp -m mark --mark 0x111/0xfff -j ACCEPT',
      '-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -j ACCEPT',
      '-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -p tcp -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15001',
    ]],
    ['raw', 'ISTIO_OUTPUT', ['-A ISTIO_OUTPUT -p udp -m udp --dport 53 -m mark --mark 0x539/0xfff -j CT --zone 1']],
  ])('%s %s holds exactly the fact sheet rules, in order', (table, chain, want) => {
    expect(chainRules(r.ipv4, table, chain)).toEqual(want);
  });

  it('renders iptables-restore --noflush input: declare, jump, rules, COMMIT per table', () => {
    const lines = r.ipv4.restore.trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith('*'))).toEqual(['*mangle', '*nat', '*raw']);
    expect(lines.filter((l) => l === 'COMMIT')).toHaveLength(3);
    const nat = lines.slice(lines.indexOf('*nat'), lines.indexOf('*raw'));
    expect(nat.slice(0, 5)).toEqual([
      '*nat',
      ':ISTIO_PRERT - [0:0]',
      ':ISTIO_OUTPUT - [0:0]',
      '-A OUTPUT -j ISTIO_OUTPUT',
      '-A PREROUTING -j ISTIO_PRERT',
    ]);
    expect(nat.at(-1)).toBe('COMMIT');
    expect(r.ipv4.restore.endsWith('COMMIT\n')).toBe(true);
  });

  it('adds the fwmark rule and the local route of table 100', () => {
    expect(r.routing).toHaveLength(1);
    expect(r.routing[0]!.add).toEqual([
      ['ip', '-4', 'rule', 'add', 'fwmark', '0x111/0xfff', 'pref', '32764', 'lookup', '100'],
      ['ip', '-4', 'route', 'add', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', '100'],
    ]);
  });
});

describe('buildInpodIptables options', () => {
  it('without DNS capture: no raw table and no rule mentioning port 53 or 15053', () => {
    const r = buildInpodIptables({ dnsCapture: false });
    expect(r.ipv4.tables.map((t) => t.table)).toEqual(['mangle', 'nat']);
    expect(r.ipv4.restore).not.toMatch(/\b53\b|15053|CT --zone/);
    expect(chainRules(r.ipv4, 'nat', 'ISTIO_OUTPUT')).toEqual([
      '-A ISTIO_OUTPUT -d 169.254.7.127/32 -p tcp -j ACCEPT',
      '-A ISTIO_OUTPUT -p tcp -m mark --mark 0x111/0xfff -j ACCEPT',
      '-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -j ACCEPT',
      '-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -p tcp -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15001',
    ]);
  });

  it('with IPv6: ip6tables text with ::1, the v6 probe address, and v6 policy routing', () => {
    const r = buildInpodIptables({ ipv6: true });
    expect(r.ipv6).toBeDefined();
    const v6 = r.ipv6!;
    expect(v6.family).toBe('ipv6');
    expect(chainRules(v6, 'nat', 'ISTIO_PRERT')).toEqual([
      '-A ISTIO_PRERT -s fd16:9254:7127:1337:ffff:ffff:ffff:ffff/128 -p tcp -j ACCEPT',
      '-A ISTIO_PRERT ! -d ::1/128 -p tcp -m tcp ! --dport 15008 -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15006',
    ]);
    expect(chainRules(v6, 'nat', 'ISTIO_OUTPUT').at(-1)).toBe('-A ISTIO_OUTPUT ! -d ::1/128 -p tcp -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15001');
    expect(v6.restore).not.toContain('127.0.0.1');
    expect(v6.restore).not.toContain('169.254.7.127');
    // Family-neutral rules appear in both.
    expect(chainRules(v6, 'mangle', 'ISTIO_PRERT')).toEqual(chainRules(r.ipv4, 'mangle', 'ISTIO_PRERT'));
    // IPv4 text is unchanged by turning IPv6 on.
    expect(r.ipv4.restore).toBe(buildInpodIptables().ipv4.restore);
    expect(r.routing.map((x) => x.add)).toEqual([
      [
        ['ip', '-4', 'rule', 'add', 'fwmark', '0x111/0xfff', 'pref', '32764', 'lookup', '100'],
        ['ip', '-4', 'route', 'add', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', '100'],
      ],
      [
        ['ip', '-6', 'rule', 'add', 'fwmark', '0x111/0xfff', 'pref', '32764', 'lookup', '100'],
        ['ip', '-6', 'route', 'add', 'local', '::/0', 'dev', 'lo', 'table', '100'],
      ],
    ]);
  });

  it('honours custom ports, marks, probe address, zone and routing', () => {
    const r = buildInpodIptables({
      outboundPort: 25001,
      inboundPlaintextPort: 25006,
      inboundHbonePort: 25008,
      dnsCapturePort: 25053,
      packetMark: 0x777,
      tproxyMark: 0x222,
      probeSnatIpv4: '169.254.9.9',
      dnsConntrackZone: 7,
      routeTable: 133,
      rulePriority: 30000,
    });
    const text = r.ipv4.restore;
    expect(text).toContain('! --dport 25008 -m mark ! --mark 0x777/0xfff -j REDIRECT --to-ports 25006');
    expect(text).toContain('-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -p tcp -m mark ! --mark 0x777/0xfff -j REDIRECT --to-ports 25001');
    expect(text).toContain('--dport 53 -m mark ! --mark 0x777/0xfff -j REDIRECT --to-ports 25053');
    expect(text).toContain('-j CONNMARK --set-xmark 0x222/0xfff');
    expect(text).toContain('-A ISTIO_OUTPUT -p tcp -m mark --mark 0x222/0xfff -j ACCEPT');
    expect(text).toContain('-s 169.254.9.9/32');
    expect(text).toContain('-j CT --zone 7');
    expect(text).not.toMatch(/1500[168]|15053|0x539|0x111\b|169\.254\.7\.127/);
    expect(r.routing[0]!.add[0]).toEqual(['ip', '-4', 'rule', 'add', 'fwmark', '0x222/0xfff', 'pref', '30000', 'lookup', '133']);
    expect(r.routing[0]!.add[1]).toContain('133');
  });

  it('in ingress mode leaves inbound alone: no probe accept, no 15006 redirect', () => {
    const r = buildInpodIptables({ ingressMode: true });
    expect(chainRules(r.ipv4, 'nat', 'ISTIO_PRERT')).toEqual([]);
    expect(r.ipv4.restore).not.toContain('15006');
    // The chain and its jump stay, so reconcile and removal see the same shape.
    expect(r.ipv4.tables.find((t) => t.table === 'nat')!.jumps).toHaveLength(2);
  });

  it('sends TCP from a virtual interface to the outbound port, ahead of everything else', () => {
    const r = buildInpodIptables({ rerouteVirtualInterfaces: ['tap0', 'tap1'] });
    expect(chainRules(r.ipv4, 'nat', 'ISTIO_PRERT').slice(0, 4)).toEqual([
      '-A ISTIO_PRERT -i tap0 -p tcp -j REDIRECT --to-ports 15001',
      '-A ISTIO_PRERT -i tap0 -p tcp -j RETURN',
      '-A ISTIO_PRERT -i tap1 -p tcp -j REDIRECT --to-ports 15001',
      '-A ISTIO_PRERT -i tap1 -p tcp -j RETURN',
    ]);
  });

  it.each([
    [{ outboundPort: 0 }, /outboundPort/],
    [{ inboundPlaintextPort: 70000 }, /inboundPlaintextPort/],
    [{ packetMark: -1 }, /packetMark/],
    [{ probeSnatIpv4: 'not-an-ip' }, /probeSnatIpv4/],
    [{ rerouteVirtualInterfaces: ['eth0 -j ACCEPT'] }, /rerouteVirtualInterfaces\[0\]/],
    [{ rerouteVirtualInterfaces: ['a-name-that-is-too-long'] }, /rerouteVirtualInterfaces\[0\]/],
  ])('refuses %j with INVALID_OPTIONS', (opts, message) => {
    expect(() => buildInpodIptables(opts)).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS', message: expect.stringMatching(message) }));
  });
});
