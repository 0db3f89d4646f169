// Reading `nft list` output (fixtures are listings nft 1.0.6 printed for our own tables) and
// comparing it with the builder: named priorities, wrapped set elements, handles, drift lines.
import { describe, expect, it } from 'vitest';
import { buildInpodNftables } from './nftables-inpod.ts';
import { buildHostProbeNftables } from './host-probe.ts';
import { diffNftTables } from './nft-diff.ts';
import { normaliseHeader, parseNftList, parseNftTableNames } from './nft-parse.ts';
import { renderNftTable } from './nft-ruleset.ts';

const RAW_LISTING = `table inet istio-ambient-raw {
	chain prerouting {
		type filter hook prerouting priority raw; policy accept;
		jump istio-prerouting
	}

	chain output {
		type filter hook output priority raw; policy accept;
		jump istio-output
	}

	chain istio-prerouting {
		meta nfproto ipv4 udp sport 53 meta mark & 0x00000fff != 0x00000539 ct zone set 1 # handle 5
	}

	chain istio-output {
		meta nfproto ipv4 udp dport 53 meta mark & 0x00000fff == 0x00000539 ct zone set 1
	}
}
`;

const HOST_LISTING = `table inet istio-ambient-nat {
	set istio-inpod-probes-v4 {
		type ipv4_addr
		elements = { 10.244.1.1, 10.244.1.2,
			     10.244.1.3, 10.244.1.4,
			     10.244.1.11, 10.244.1.12 }
	}

	set istio-inpod-probes-v6 {
		type ipv6_addr
	}

	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		jump istio-postrouting
	}

	chain istio-postrouting {
		meta skuid 0 ip daddr @istio-inpod-probes-v4 meta l4proto tcp snat ip to 169.254.7.127
		meta skuid 0 ip6 daddr @istio-inpod-probes-v6 meta l4proto tcp snat ip6 to fd16:9254:7127:1337:ffff:ffff:ffff:ffff
	}
}
`;

const OWNED = ['istio-ambient-nat', 'istio-ambient-mangle', 'istio-ambient-raw'];

describe('parseNftList', () => {
  it('reads chains, normalised headers and rules (handles dropped)', () => {
    const [t] = parseNftList(RAW_LISTING);
    expect(t).toEqual({
      family: 'inet',
      name: 'istio-ambient-raw',
      sets: [],
      chains: [
        { name: 'prerouting', header: 'type filter hook prerouting priority -300; policy accept;', rules: ['jump istio-prerouting'] },
        { name: 'output', header: 'type filter hook output priority -300; policy accept;', rules: ['jump istio-output'] },
        { name: 'istio-prerouting', rules: ['meta nfproto ipv4 udp sport 53 meta mark & 0x00000fff != 0x00000539 ct zone set 1'] },
        { name: 'istio-output', rules: ['meta nfproto ipv4 udp dport 53 meta mark & 0x00000fff == 0x00000539 ct zone set 1'] },
      ],
    });
  });

  it('skips set elements wrapped over several lines', () => {
    const [t] = parseNftList(HOST_LISTING);
    expect(t!.sets).toEqual([
      { name: 'istio-inpod-probes-v4', type: 'ipv4_addr' },
      { name: 'istio-inpod-probes-v6', type: 'ipv6_addr' },
    ]);
    expect(t!.chains.map((c) => [c.name, c.rules.length])).toEqual([
      ['postrouting', 1],
      ['istio-postrouting', 2],
    ]);
  });

  it('parses what the builder renders', () => {
    const want = buildInpodNftables({ ipv6: true }).tables;
    const parsed = parseNftList(want.map(renderNftTable).join('\n'));
    expect(diffNftTables(want, parsed, OWNED)).toEqual({ missing: [], unexpected: [] });
  });

  it('refuses unbalanced text', () => {
    expect(() => parseNftList('table inet x {\n\tchain y {\n')).toThrow(expect.objectContaining({ code: 'UNPARSABLE_OUTPUT' }));
    expect(() => parseNftList('}\n')).toThrow(expect.objectContaining({ code: 'UNPARSABLE_OUTPUT' }));
  });

  it.each([
    ['type nat hook prerouting priority dstnat; policy accept;', 'type nat hook prerouting priority -100; policy accept;'],
    ['type nat hook postrouting  priority srcnat + 10; policy accept;', 'type nat hook postrouting priority 110; policy accept;'],
    ['type filter hook output priority mangle - 5; policy accept;', 'type filter hook output priority -155; policy accept;'],
    ['type nat hook output priority -100; policy accept;', 'type nat hook output priority -100; policy accept;'],
  ])('normalises %s', (line, want) => {
    expect(normaliseHeader(line)).toBe(want);
  });

  it('lists table names', () => {
    expect(parseNftTableNames('table ip nat\ntable inet istio-ambient-nat\n')).toEqual(['ip nat', 'inet istio-ambient-nat']);
  });
});

describe('diffNftTables', () => {
  const want = buildInpodNftables().tables;

  it('matches a live listing of the raw table', () => {
    const d = diffNftTables(want.filter((t) => t.name === 'istio-ambient-raw'), parseNftList(RAW_LISTING), ['istio-ambient-raw']);
    expect(d).toEqual({ missing: [], unexpected: [] });
  });

  it('matches a live listing of the host table, members ignored', () => {
    const host = buildHostProbeNftables({ ipv6: true }).table;
    expect(diffNftTables([host], parseNftList(HOST_LISTING), ['istio-ambient-nat'])).toEqual({ missing: [], unexpected: [] });
  });

  it('names missing tables, rules and wrong headers', () => {
    const listing = RAW_LISTING.replace('priority raw; policy accept;\n\t\tjump istio-output', 'priority 0; policy accept;\n\t\tjump istio-output').replace(
      /\t\tmeta nfproto ipv4 udp dport 53[^\n]*\n/,
      '',
    );
    const d = diffNftTables(want, parseNftList(listing), OWNED);
    expect(d.missing).toEqual([
      'nft inet istio-ambient-nat: table',
      'nft inet istio-ambient-mangle: table',
      'nft inet istio-ambient-raw: chain output: type filter hook output priority -300; policy accept;',
      'nft inet istio-ambient-raw: chain istio-output: meta nfproto ipv4 udp dport 53 meta mark & 0x00000fff == 0x00000539 ct zone set 1',
    ]);
    expect(d.unexpected).toEqual(['nft inet istio-ambient-raw: chain output: type filter hook output priority 0; policy accept;']);
  });

  it('names a table or chain that should not be there', () => {
    const extra = RAW_LISTING.replace(/}\n$/, '\tchain sneaky {\n\t\taccept\n\t}\n}\n');
    expect(diffNftTables(want, parseNftList(extra), OWNED).unexpected).toEqual(['nft inet istio-ambient-raw: chain sneaky']);
    expect(diffNftTables(buildInpodNftables({ dnsCapture: false }).tables, parseNftList(RAW_LISTING), OWNED).unexpected).toEqual(['nft inet istio-ambient-raw: table']);
  });
});
