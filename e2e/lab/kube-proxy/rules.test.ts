// Table tests of the kube-proxy stand-in's rule builder: plain data in, iptables-restore text out.
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  buildServiceRules,
  chainName,
  HOOKS,
  ourChains,
  serviceInfoFromK8s,
  sliceInfoFromK8s,
  withStaleChainsDeleted,
  type ServiceInfo,
  type ServiceRulesInput,
  type SliceInfo,
} from './rules.ts';

const POD_CIDR = '10.244.1.0/24';
const CLUSTER_CIDR = '10.244.0.0/16';

function svc(name: string, clusterIPs: string[], ports: ServiceInfo['ports'], namespace = 'demo'): ServiceInfo {
  return { namespace, name, clusterIPs, ports };
}

function slice(serviceName: string, ports: SliceInfo['ports'], endpoints: [string, boolean][], namespace = 'demo'): SliceInfo {
  return { namespace, serviceName, ports, endpoints: endpoints.map(([ip, ready]) => ({ addresses: [ip], ready })) };
}

function build(services: ServiceInfo[], endpointSlices: SliceInfo[], extra: Partial<ServiceRulesInput> = {}): string {
  return buildServiceRules({ services, endpointSlices, podCidr: POD_CIDR, clusterCidr: CLUSTER_CIDR, ...extra });
}

/** The lines of one table's block. */
function table(text: string, name: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(`*${name}`);
  expect(start, `table ${name} present`).toBeGreaterThanOrEqual(0);
  return lines.slice(start + 1, lines.indexOf('COMMIT', start));
}

const HTTP = [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }];
const HTTP_SLICE = [{ name: 'http', port: 8080, protocol: 'TCP' }];

describe('buildServiceRules', () => {
  it('writes one Service with two ready endpoints (and one not ready) as shown', () => {
    const text = build(
      [svc('echo', ['10.96.0.50'], HTTP)],
      [slice('echo', HTTP_SLICE, [['10.244.2.5', true], ['10.244.1.9', true], ['10.244.1.10', false]])],
    );
    const svcChain = chainName('SVC', 'demo/echo:http/TCP');
    const sep1 = chainName('SEP', 'demo/echo:http/TCP/10.244.1.9:8080');
    const sep2 = chainName('SEP', 'demo/echo:http/TCP/10.244.2.5:8080');
    expect(text).toBe(
      [
        '*nat',
        ':LAB-SERVICES - [0:0]',
        ':LAB-POSTROUTING - [0:0]',
        `:${svcChain} - [0:0]`,
        `:${sep1} - [0:0]`,
        `:${sep2} - [0:0]`,
        `-A LAB-SERVICES -d 10.96.0.50/32 -p tcp -m comment --comment "demo/echo:http cluster IP" -m tcp --dport 80 -j ${svcChain}`,
        `-A ${svcChain} -m comment --comment "demo/echo:http -> 10.244.1.9:8080" -m statistic --mode random --probability 0.5000000000 -j ${sep1}`,
        `-A ${sep1} -p tcp -m comment --comment "demo/echo:http" -m tcp -j DNAT --to-destination 10.244.1.9:8080`,
        `-A ${svcChain} -m comment --comment "demo/echo:http -> 10.244.2.5:8080" -j ${sep2}`,
        `-A ${sep2} -p tcp -m comment --comment "demo/echo:http" -m tcp -j DNAT --to-destination 10.244.2.5:8080`,
        '-A LAB-POSTROUTING -s 10.244.1.0/24 -d 10.244.1.0/24 -m conntrack --ctstate DNAT -m comment --comment "same-node service hairpin" -j MASQUERADE',
        '-A LAB-POSTROUTING ! -s 10.244.0.0/16 -d 10.244.0.0/16 -m conntrack --ctstate DNAT -m comment --comment "service traffic from outside the cluster" -j MASQUERADE',
        'COMMIT',
        '*filter',
        ':LAB-SERVICES - [0:0]',
        'COMMIT',
        '',
      ].join('\n'),
    );
  });

  it.each([
    [1, []],
    [2, ['0.5000000000']],
    [3, ['0.3333333333', '0.5000000000']],
    [4, ['0.2500000000', '0.3333333333', '0.5000000000']],
  ])('balances %i endpoints evenly: probabilities %j, the last rule unconditional', (n, probs) => {
    const eps: [string, boolean][] = Array.from({ length: n }, (_, i) => [`10.244.2.${i + 10}`, true]);
    const svcChain = chainName('SVC', 'demo/echo:http/TCP');
    const jumps = table(build([svc('echo', ['10.96.0.50'], HTTP)], [slice('echo', HTTP_SLICE, eps)]), 'nat').filter((l) => l.startsWith(`-A ${svcChain} `));
    expect(jumps).toHaveLength(n);
    expect(jumps.map((l) => /--probability (\S+)/.exec(l)?.[1]).filter((p) => p !== undefined)).toEqual(probs);
    expect(jumps.at(-1)).not.toMatch(/statistic/);
  });

  it('rejects in the filter table, and does not DNAT, a Service port without ready endpoints', () => {
    const text = build(
      [svc('empty', ['10.96.0.60'], HTTP), svc('down', ['10.96.0.61'], [{ name: 'dns', port: 53, protocol: 'UDP' }])],
      [slice('down', [{ name: 'dns', port: 5353, protocol: 'UDP' }], [['10.244.1.4', false]])],
    );
    expect(table(text, 'filter')).toEqual([
      ':LAB-SERVICES - [0:0]',
      '-A LAB-SERVICES -d 10.96.0.61/32 -p udp -m comment --comment "demo/down:dns has no endpoints" -m udp --dport 53 -j REJECT --reject-with icmp-port-unreachable',
      '-A LAB-SERVICES -d 10.96.0.60/32 -p tcp -m comment --comment "demo/empty:http has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable',
    ]);
    expect(text).not.toMatch(/LAB-SVC-|DNAT --to/);
  });

  it('maps each Service port to the slice port of the same name and protocol (UDP too)', () => {
    const text = build(
      [svc('multi', ['10.96.0.70'], [
        { name: 'http', port: 80, protocol: 'TCP', targetPort: 'web' },
        { name: 'grpc', port: 90, protocol: 'TCP' },
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, protocol: 'TCP' },
      ])],
      [slice('multi', [
        { name: 'grpc', port: 9090, protocol: 'TCP' },
        { name: 'http', port: 8080, protocol: 'TCP' },
        { name: 'dns', port: 5353, protocol: 'UDP' },
        { name: 'dns-tcp', port: 5354, protocol: 'TCP' },
      ], [['10.244.3.3', true]])],
    );
    const dnat = table(text, 'nat').filter((l) => l.includes('--to-destination'));
    const portal = table(text, 'nat').filter((l) => l.startsWith('-A LAB-SERVICES'));
    expect(portal.map((l) => /-p (\w+) .*--dport (\d+)/.exec(l)?.slice(1).join('/'))).toEqual(['tcp/80', 'tcp/90', 'udp/53', 'tcp/53']);
    expect(dnat.map((l) => /-p (\w+) .*--to-destination (\S+)/.exec(l)?.slice(1).join(' '))).toEqual([
      'tcp 10.244.3.3:8080',
      'tcp 10.244.3.3:9090',
      'udp 10.244.3.3:5353',
      'tcp 10.244.3.3:5354',
    ]);
  });

  it('matches an unnamed Service port with an unnamed slice port, and merges and deduplicates slices', () => {
    const text = build(
      [svc('plain', ['10.96.0.80'], [{ port: 80, protocol: 'TCP' }])],
      [
        slice('plain', [{ port: 8080, protocol: 'TCP' }], [['10.244.1.2', true], ['10.244.1.3', true]]),
        slice('plain', [{ port: 8080, protocol: 'TCP' }], [['10.244.1.3', true], ['10.244.2.2', true]]),
        slice('plain', [{ name: 'other', port: 7070, protocol: 'TCP' }], [['10.244.9.9', true]]),
        slice('plain', [{ port: 8080, protocol: 'TCP' }], [['10.244.8.8', true]], 'elsewhere'),
      ],
    );
    const dnat = table(text, 'nat').filter((l) => l.includes('--to-destination')).map((l) => /--to-destination (\S+)/.exec(l)?.[1]);
    expect(dnat).toEqual(['10.244.1.2:8080', '10.244.1.3:8080', '10.244.2.2:8080']);
    expect(text).toContain('--comment "demo/plain cluster IP"');
  });

  it.each<[string, ServiceInfo]>([
    ['headless', svc('headless', ['None'], HTTP)],
    ['no cluster IP', svc('none', [], HTTP)],
    ['IPv6 only', svc('v6', ['fd00:10:96::50'], HTTP)],
    ['SCTP only', svc('sctp', ['10.96.0.90'], [{ name: 'http', port: 80, protocol: 'SCTP' }])],
  ])('programs nothing for a %s Service', (_why, s) => {
    const text = build([s], [slice(s.name, HTTP_SLICE, [['10.244.1.2', true]])]);
    expect(text).not.toMatch(/LAB-SVC-|REJECT/);
  });

  it('uses only the IPv4 cluster IP of a dual-stack Service and only IPv4 endpoint addresses', () => {
    const s = svc('dual', ['fd00:10:96::51', '10.96.0.51'], HTTP);
    const sl: SliceInfo = { namespace: 'demo', serviceName: 'dual', ports: HTTP_SLICE, endpoints: [{ addresses: ['fd00:10:244::5', '10.244.1.5'], ready: true }] };
    const nat = table(build([s], [sl]), 'nat');
    expect(nat.filter((l) => l.startsWith('-A LAB-SERVICES'))).toHaveLength(1);
    expect(nat.join('\n')).toContain('-d 10.96.0.51/32');
    expect(nat.filter((l) => l.includes('--to-destination')).map((l) => /--to-destination (\S+)/.exec(l)?.[1])).toEqual(['10.244.1.5:8080']);
  });

  it('is deterministic: the order of the input does not change the output', () => {
    const services = [svc('b', ['10.96.0.2'], HTTP), svc('a', ['10.96.0.1'], HTTP), svc('c', ['10.96.0.3'], HTTP, 'other')];
    const slices = [
      slice('a', HTTP_SLICE, [['10.244.2.1', true], ['10.244.1.20', true], ['10.244.1.3', true]]),
      slice('b', HTTP_SLICE, [['10.244.1.4', true]]),
    ];
    const once = build(services, slices);
    const reversed = build([...services].reverse(), [...slices].reverse().map((s) => ({ ...s, endpoints: [...s.endpoints].reverse() })));
    expect(reversed).toBe(once);
    // Numeric address order, not string order.
    expect(table(once, 'nat').filter((l) => l.includes('--to-destination')).map((l) => /--to-destination (\S+)/.exec(l)?.[1])).toEqual([
      '10.244.1.3:8080', '10.244.1.20:8080', '10.244.2.1:8080', '10.244.1.4:8080',
    ]);
  });

  it('touches no chain but its own: every rule is appended to a LAB- chain declared in the same table', () => {
    const text = build(
      [svc('echo', ['10.96.0.50'], HTTP), svc('empty', ['10.96.0.60'], HTTP)],
      [slice('echo', HTTP_SLICE, [['10.244.1.2', true], ['10.244.2.2', true]])],
    );
    for (const t of ['nat', 'filter']) {
      const lines = table(text, t);
      const declared = new Set(lines.filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]));
      for (const c of declared) {
        expect(c).toMatch(/^LAB-/);
        expect(c!.length).toBeLessThanOrEqual(28);
      }
      for (const l of lines.filter((x) => !x.startsWith(':'))) {
        const m = /^-A (\S+) .* -j (\S+)/.exec(l);
        expect(m, l).not.toBeNull();
        expect(declared.has(m![1]!), l).toBe(true);
        if (m![2]!.startsWith('LAB-')) expect(declared.has(m![2]!), l).toBe(true);
      }
    }
    for (const h of HOOKS) expect(['PREROUTING', 'OUTPUT', 'POSTROUTING', 'FORWARD']).toContain(h.chain);
  });

  it('with localHairpin "self" masquerades only a pod reaching itself, for endpoints on this node', () => {
    const text = build(
      [svc('echo', ['10.96.0.50'], HTTP)],
      [slice('echo', HTTP_SLICE, [['10.244.1.9', true], ['10.244.2.5', true], ['10.244.1.3', true]])],
      { localHairpin: 'self' },
    );
    expect(table(text, 'nat').filter((l) => l.startsWith('-A LAB-POSTROUTING'))).toEqual([
      '-A LAB-POSTROUTING -s 10.244.1.3/32 -d 10.244.1.3/32 -m conntrack --ctstate DNAT -m comment --comment "service hairpin to self" -j MASQUERADE',
      '-A LAB-POSTROUTING -s 10.244.1.9/32 -d 10.244.1.9/32 -m conntrack --ctstate DNAT -m comment --comment "service hairpin to self" -j MASQUERADE',
      '-A LAB-POSTROUTING ! -s 10.244.0.0/16 -d 10.244.0.0/16 -m conntrack --ctstate DNAT -m comment --comment "service traffic from outside the cluster" -j MASQUERADE',
    ]);
  });

  it('canonicalises the CIDRs and refuses anything but IPv4 CIDRs', () => {
    expect(build([], [], { podCidr: '10.244.1.77/24' })).toContain('-s 10.244.1.0/24 -d 10.244.1.0/24');
    expect(() => build([], [], { podCidr: 'fd00::/64' })).toThrow(/podCidr must be an IPv4 CIDR/);
    expect(() => build([], [], { clusterCidr: '10.244.0.0' })).toThrow(/clusterCidr must be an IPv4 CIDR/);
    expect(() => build([], [], { clusterCidr: '10.244.0.0/33' })).toThrow(/clusterCidr/);
  });

  it('keeps comments inside their quotes whatever the names hold', () => {
    const text = build([svc('we"ird\nname', ['10.96.0.50'], [{ name: 'a"b', port: 80, protocol: 'TCP' }])], []);
    const reject = table(text, 'filter')[1]!;
    expect(reject).toContain('--comment "demo/we_ird_name:a_b has no endpoints"');
  });
});

describe('withStaleChainsDeleted', () => {
  const old = build(
    [svc('gone', ['10.96.0.99'], HTTP), svc('echo', ['10.96.0.50'], HTTP)],
    [slice('gone', HTTP_SLICE, [['10.244.1.2', true]]), slice('echo', HTTP_SLICE, [['10.244.1.3', true]])],
  );
  // What iptables-save prints: built-in chains, other users' chains, ours.
  const saved = [
    '# Generated by iptables-save',
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':OTHER-CHAIN - [0:0]',
    ...table(old, 'nat').filter((l) => l.startsWith(':')),
    '-A PREROUTING -m comment --comment "lab service portals" -j LAB-SERVICES',
    'COMMIT',
    '*filter',
    ':FORWARD ACCEPT [0:0]',
    ':LAB-SERVICES - [0:0]',
    ':LAB-OLD-FILTER - [0:0]',
    'COMMIT',
    '*mangle',
    ':LAB-LEFTOVER - [0:0]',
    'COMMIT',
  ].join('\n');

  it('flushes and deletes our chains that the new text no longer declares, and nothing else', () => {
    const next = build([svc('echo', ['10.96.0.50'], HTTP)], [slice('echo', HTTP_SLICE, [['10.244.1.3', true]])]);
    const out = withStaleChainsDeleted(next, saved);
    const goneSvc = chainName('SVC', 'demo/gone:http/TCP');
    const goneSep = chainName('SEP', 'demo/gone:http/TCP/10.244.1.2:8080');
    const nat = table(out, 'nat');
    expect(nat.slice(-4).sort()).toEqual([`-X ${goneSep}`, `-X ${goneSvc}`, `:${goneSep} - [0:0]`, `:${goneSvc} - [0:0]`].sort());
    expect(nat.filter((l) => l.startsWith('-X')).every((l) => nat.indexOf(l) > nat.indexOf(`:${l.slice(3)} - [0:0]`))).toBe(true);
    expect(table(out, 'filter').slice(-2)).toEqual([':LAB-OLD-FILTER - [0:0]', '-X LAB-OLD-FILTER']);
    expect(table(out, 'mangle')).toEqual([':LAB-LEFTOVER - [0:0]', '-X LAB-LEFTOVER']);
    expect(out).not.toMatch(/OTHER-CHAIN|PREROUTING|-X LAB-SERVICES|-X LAB-POSTROUTING/);
  });

  it('leaves the text alone when nothing is stale', () => {
    expect(withStaleChainsDeleted(old, old)).toBe(old);
    expect(withStaleChainsDeleted(old, '')).toBe(old);
  });

  it('finds our chains per table', () => {
    expect([...(ourChains(saved).get('filter') ?? [])].sort()).toEqual(['LAB-OLD-FILTER', 'LAB-SERVICES']);
    expect(ourChains(saved).has('mangle')).toBe(true);
  });
});

describe('converters from Kubernetes objects', () => {
  it('reads a Service', () => {
    const s: V1Service = {
      metadata: { namespace: 'demo', name: 'echo' },
      spec: {
        type: 'ClusterIP',
        clusterIP: '10.96.0.50',
        clusterIPs: ['10.96.0.50'],
        ports: [{ name: 'http', port: 80, targetPort: 8080 }, { port: 53, protocol: 'UDP', targetPort: 'dns' }],
      },
    };
    expect(serviceInfoFromK8s(s)).toEqual({
      namespace: 'demo',
      name: 'echo',
      clusterIPs: ['10.96.0.50'],
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }, { port: 53, protocol: 'UDP', targetPort: 'dns' }],
    });
    expect(serviceInfoFromK8s({ metadata: { namespace: 'demo', name: 'old' }, spec: { clusterIP: '10.96.0.9' } })?.clusterIPs).toEqual(['10.96.0.9']);
    expect(serviceInfoFromK8s({ metadata: { namespace: 'demo', name: 'x' }, spec: { type: 'ExternalName', externalName: 'example.com' } })).toBeUndefined();
    expect(serviceInfoFromK8s({ metadata: { name: 'x' }, spec: {} })).toBeUndefined();
  });

  it('reads an EndpointSlice: owner label, ports, readiness (unset means ready)', () => {
    const sl: V1EndpointSlice = {
      addressType: 'IPv4',
      metadata: { namespace: 'demo', name: 'echo-abc12', labels: { 'kubernetes.io/service-name': 'echo' } },
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'all' }],
      endpoints: [
        { addresses: ['10.244.1.2'], conditions: { ready: true } },
        { addresses: ['10.244.1.3'], conditions: { ready: false, terminating: true } },
        { addresses: ['10.244.1.4'] },
      ],
    };
    expect(sliceInfoFromK8s(sl)).toEqual({
      namespace: 'demo',
      serviceName: 'echo',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [
        { addresses: ['10.244.1.2'], ready: true },
        { addresses: ['10.244.1.3'], ready: false },
        { addresses: ['10.244.1.4'], ready: true },
      ],
    });
    expect(sliceInfoFromK8s({ ...sl, addressType: 'IPv6' })).toBeUndefined();
    expect(sliceInfoFromK8s({ ...sl, metadata: { namespace: 'demo', name: 'manual' } })).toBeUndefined();
  });

  it('feeds buildServiceRules end to end', () => {
    const s = serviceInfoFromK8s({ metadata: { namespace: 'demo', name: 'echo' }, spec: { clusterIPs: ['10.96.0.50'], ports: [{ name: 'http', port: 80 }] } });
    const sl = sliceInfoFromK8s({
      addressType: 'IPv4',
      metadata: { namespace: 'demo', name: 'echo-1', labels: { 'kubernetes.io/service-name': 'echo' } },
      ports: [{ name: 'http', port: 8080 }],
      endpoints: [{ addresses: ['10.244.2.7'] }],
    });
    expect(build([s!], [sl!])).toContain('-j DNAT --to-destination 10.244.2.7:8080');
  });
});
