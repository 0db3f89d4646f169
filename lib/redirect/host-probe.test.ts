// Table tests of the host-side probe SNAT builders and the set membership commands.
import { describe, expect, it } from 'vitest';
import { buildHostProbeIptables, buildHostProbeNftables, probeTargetSteps } from './host-probe.ts';

describe('buildHostProbeIptables', () => {
  it('inserts a jump first in nat POSTROUTING and SNATs local TCP to enrolled pods', () => {
    const r = buildHostProbeIptables();
    expect(r.ipv6).toBeUndefined();
    expect(r.ipv4.restore).toBe(
      [
        '*nat',
        ':ISTIO_POSTRT - [0:0]',
        '-I POSTROUTING 1 -j ISTIO_POSTRT',
        '-A ISTIO_POSTRT -p tcp -m owner --socket-exists -m set --match-set istio-inpod-probes-v4 dst -j SNAT --to-source 169.254.7.127',
        'COMMIT',
        '',
      ].join('\n'),
    );
    expect(r.ipsets).toEqual([{ name: 'istio-inpod-probes-v4', family: 'ipv4', create: ['ipset', 'create', 'istio-inpod-probes-v4', 'hash:ip', 'family', 'inet', '-exist'] }]);
  });

  it('with IPv6 adds the v6 set and rule', () => {
    const r = buildHostProbeIptables({ ipv6: true });
    expect(r.ipv6!.tables[0]!.rules).toEqual([
      '-A ISTIO_POSTRT -p tcp -m owner --socket-exists -m set --match-set istio-inpod-probes-v6 dst -j SNAT --to-source fd16:9254:7127:1337:ffff:ffff:ffff:ffff',
    ]);
    expect(r.ipsets.map((s) => s.create.join(' '))).toContain('ipset create istio-inpod-probes-v6 hash:ip family inet6 -exist');
  });
});

describe('buildHostProbeNftables', () => {
  it('keeps the sets, flushes and refills the chains, matches kubelet by UID', () => {
    const r = buildHostProbeNftables({ kubeletUid: 1234 });
    const lines = r.script.trimEnd().split('\n');
    expect(lines[0]).toBe('add table inet istio-ambient-nat');
    expect(lines).toContain('add set inet istio-ambient-nat istio-inpod-probes-v4 { type ipv4_addr; }');
    expect(lines).toContain('add chain inet istio-ambient-nat postrouting { type nat hook postrouting priority 100; policy accept; }');
    expect(lines).not.toContain('delete table inet istio-ambient-nat');
    expect(lines.indexOf('flush chain inet istio-ambient-nat istio-postrouting')).toBeLessThan(lines.indexOf('delete set inet istio-ambient-nat istio-inpod-probes-v6'));
    expect(lines.slice(-2)).toEqual([
      'add rule inet istio-ambient-nat postrouting jump istio-postrouting',
      'add rule inet istio-ambient-nat istio-postrouting meta skuid 1234 ip daddr @istio-inpod-probes-v4 meta l4proto tcp snat ip to 169.254.7.127',
    ]);
  });

  it('with IPv6 keeps the v6 set and adds its rule', () => {
    const r = buildHostProbeNftables({ ipv6: true });
    expect(r.script).not.toContain('delete set');
    expect(r.table.chains[1]!.rules[1]).toBe('meta skuid 0 ip6 daddr @istio-inpod-probes-v6 meta l4proto tcp snat ip6 to fd16:9254:7127:1337:ffff:ffff:ffff:ffff');
  });
});

describe('probeTargetSteps', () => {
  it('uses ipset add/del -exist for iptables', () => {
    expect(probeTargetSteps(['10.0.0.5', '10.0.0.6'], 'add', 'iptables')).toEqual([
      { argv: ['ipset', 'add', 'istio-inpod-probes-v4', '10.0.0.5', '-exist'] },
      { argv: ['ipset', 'add', 'istio-inpod-probes-v4', '10.0.0.6', '-exist'] },
    ]);
    expect(probeTargetSteps(['10.0.0.5'], 'remove', 'iptables')[0]!.argv[1]).toBe('del');
  });

  it('makes nft element removal idempotent by adding first in the same transaction', () => {
    const [step] = probeTargetSteps(['10.0.0.5', '2001:DB8::5'], 'remove', 'nftables', { ipv6: true });
    expect(step!.argv).toEqual(['nft', '-f', '-']);
    expect(step!.stdin).toBe(
      [
        'add element inet istio-ambient-nat istio-inpod-probes-v4 { 10.0.0.5 }',
        'delete element inet istio-ambient-nat istio-inpod-probes-v4 { 10.0.0.5 }',
        'add element inet istio-ambient-nat istio-inpod-probes-v6 { 2001:db8::5 }',
        'delete element inet istio-ambient-nat istio-inpod-probes-v6 { 2001:db8::5 }',
        '',
      ].join('\n'),
    );
    expect(probeTargetSteps([], 'add', 'nftables')).toEqual([]);
  });

  it('refuses a non-address, and IPv6 while IPv6 is off', () => {
    expect(() => probeTargetSteps(['10.0.0.5; flush ruleset'], 'add', 'nftables')).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
    expect(() => probeTargetSteps(['2001:db8::5'], 'add', 'iptables')).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
  });
});
