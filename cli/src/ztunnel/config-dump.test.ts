import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { table, WAYPOINT_TABLE, ZTUNNEL_TABLE } from '../table.ts';
import { certificateRows, normalizeConfigDump, parseConfigDump, pascal, policyRows, renderConfigDump, serialHex, serviceRows, workloadRows } from './config-dump.ts';

// Made by our ztunnel's own configDump (ztunnel/src/admin/config-dump.ts, whose unit test rewrites it
// with UPDATE_GOLDEN=1): the exact JSON its admin port serves, in Istio's ztunnel shape.
const OURS_TEXT = readFileSync(new URL('./testdata/ambient-config-dump.json', import.meta.url), 'utf8');
const ours = parseConfigDump(OURS_TEXT);
const NOW = new Date('2026-01-10T13:00:00Z');

// Istio's ztunnel dialect: maps keyed by address, `workloadIps`, PascalCase enums, decimal serials, rootCerts.
const ISTIO = {
  workloads: {
    '/10.244.2.54': { uid: 'Kubernetes//Pod/bookinfo/ratings-v1-abc', workloadIps: ['10.244.2.54'], waypoint: { destination: '/10.96.65.117' }, protocol: 'HBONE', name: 'ratings-v1-abc', namespace: 'bookinfo', node: 'worker2', status: 'Healthy' },
    '/10.244.2.52': { uid: 'Kubernetes//Pod/bookinfo/waypoint-xyz', workloadIps: ['10.244.2.52'], protocol: 'TCP', name: 'waypoint-xyz', namespace: 'bookinfo', node: 'worker2', status: 'Healthy' },
    'ServiceEntry/x': { uid: 'x', workloadIps: [], hostname: 'db.example.com', protocol: 'TCP', name: 'db', namespace: 'bookinfo', node: '', status: 'Unhealthy' },
  },
  services: [
    { name: 'ratings', namespace: 'bookinfo', hostname: 'ratings.bookinfo.svc.cluster.local', vips: ['/10.96.1.1', 'net2/fd00::1'], ports: { 9080: 9080 }, waypoint: { destination: 'bookinfo/waypoint.bookinfo.svc.cluster.local' }, endpoints: { 'Kubernetes//Pod/bookinfo/ratings-v1-abc': { workloadUid: 'Kubernetes//Pod/bookinfo/ratings-v1-abc', service: '', port: {} }, gone: { workloadUid: 'gone' } } },
    { name: 'waypoint', namespace: 'bookinfo', hostname: 'waypoint.bookinfo.svc.cluster.local', vips: ['/10.96.65.117'], endpoints: {} },
  ],
  policies: [{ name: 'allow-nothing', namespace: 'default', scope: 'Namespace', action: 'Allow', rules: [] }],
  certificates: [
    { identity: 'spiffe://cluster.local/ns/istio-system/sa/istiod', state: 'Available', certChain: [{ pem: '', serialNumber: '305554775863395697262503895661564044819', validFrom: '2023-03-21T13:02:57Z', expirationTime: '2033-03-22T13:04:57Z' }], rootCerts: [{ pem: '', serialNumber: '183856113797057159350158029893417591233', validFrom: '2022-03-21T13:04:49Z', expirationTime: '2022-03-18T13:04:49Z' }] },
    { identity: 'spiffe://cluster.local/ns/istio-system/sa/other', state: 'Unavailable: the CA refused', certChain: [] },
  ],
};
const istio = normalizeConfigDump(ISTIO);

describe('ztunnel-config over our ztunnel\'s /config_dump', () => {
  it('is Istio\'s ztunnel dialect', () => expect(ours.dialect).toBe('istio'));

  it('workloads: sorted by namespace.name, TCP for tunnel NONE, the waypoint by its Service name', () => {
    expect(table(workloadRows(ours, {}), ZTUNNEL_TABLE)).toBe([
      'NAMESPACE POD NAME            ADDRESS    NODE  WAYPOINT PROTOCOL',
      'app-a     sleep               10.244.1.5 node1 None     HBONE',
      'app-b     echo-7d9f-abcde     10.244.2.7 node2 waypoint HBONE',
      'app-b     echo-7d9f-fghij     10.244.1.9 node1 None     HBONE',
      'app-b     waypoint-5c6d-xyz12 10.244.2.8 node2 None     TCP',
      'outside   outsider            10.244.1.6 node1 None     TCP',
      '',
    ].join('\n'));
  });

  it('workload filters: namespace, address and node, case-insensitive', () => {
    expect(workloadRows(ours, { namespace: 'APP-B', node: 'node1' }).slice(1).map((r) => r[1])).toEqual(['echo-7d9f-fghij']);
    expect(workloadRows(ours, { address: '10.244.1.6' }).slice(1).map((r) => r[1])).toEqual(['outsider']);
  });

  it('services: VIPs without the network, waypoint by VIP, healthy/all endpoints', () => {
    expect(table(serviceRows(ours), ZTUNNEL_TABLE)).toBe([
      'NAMESPACE SERVICE NAME SERVICE VIP WAYPOINT ENDPOINTS',
      'app-b     echo         10.96.0.20  waypoint 1/2',
      'app-b     waypoint     10.96.0.30  None     1/1',
      'default   kubernetes   10.96.0.1   None     0/0',
      '',
    ].join('\n'));
    expect(serviceRows(ours, 'default').slice(1).map((r) => r[1])).toEqual(['kubernetes']);
  });

  it('policies: Istio\'s PascalCase action and scope', () => {
    expect(table(policyRows(ours), ZTUNNEL_TABLE)).toBe([
      'NAMESPACE    POLICY NAME                   ACTION SCOPE',
      'app-b        allow-sleep                   Allow  WorkloadSelector',
      'app-b        deny-one                      Deny   Namespace',
      'istio-system istio_converted_static_strict Deny   Global',
      '',
    ].join('\n'));
  });

  it('certificates: the leaf and the root with their hex serials and validity, a pending identity as NA', () => {
    expect(certificateRows(ours, NOW)).toEqual([
      ['CERTIFICATE NAME', 'TYPE', 'STATUS', 'VALID CERT', 'SERIAL NUMBER', 'NOT AFTER', 'NOT BEFORE'],
      ['spiffe://cluster.local/ns/app-a/sa/sleep', 'Leaf', 'Available', 'true', 'e65306e2dcbfe5ac6e4fdf89204fdfa2', '2026-01-11T12:00:00Z', '2026-01-10T11:59:00Z'],
      ['spiffe://cluster.local/ns/app-a/sa/sleep', 'Root', 'Available', 'true', '6df138fd16da2ebbf650bae20d130465', '2036-01-01T00:00:00Z', '2026-01-01T00:00:00Z'],
      ['spiffe://cluster.local/ns/app-b/sa/echo', 'NA', 'Initializing', 'false', 'NA', 'NA', 'NA'],
    ]);
    expect(certificateRows(ours, new Date('2027-01-01T00:00:00Z'))[1]![3]).toBe('false');
  });

  it('-o json prints the matching raw entries with 4-space indent; -o yaml the same as YAML', () => {
    const json = renderConfigDump(ours, { kind: 'workloads', output: 'json', now: NOW, workloads: { namespace: 'outside' } });
    expect(json.startsWith('[\n    {\n        "workloadIps": [\n            "10.244.1.6"\n        ],')).toBe(true);
    expect((JSON.parse(json) as { name: string }[]).map((w) => w.name)).toEqual(['outsider']);
    const yaml = renderConfigDump(ours, { kind: 'policies', output: 'yaml', now: NOW, policyNamespace: 'istio-system' });
    expect((parse(yaml) as { name: string }[]).map((p) => p.name)).toEqual(['istio_converted_static_strict']);
    expect(renderConfigDump(ours, { kind: 'all', output: 'json', now: NOW, rawText: OURS_TEXT })).toBe(OURS_TEXT);
  });

  it('all: each summary after a blank line', () => {
    const out = renderConfigDump(ours, { kind: 'all', output: 'short', now: NOW });
    expect(out.split('\n').filter((l) => /^(NAMESPACE|CERTIFICATE NAME)/.test(l)).length).toBe(4);
    expect(out.startsWith('\nNAMESPACE POD NAME')).toBe(true);
  });
});

describe('ztunnel-config over Istio\'s ztunnel dialect', () => {
  it('reads maps keyed by address, hostname-only workloads and both waypoint forms', () => {
    expect(istio.dialect).toBe('istio');
    expect(workloadRows(istio, {})).toEqual([
      ['NAMESPACE', 'POD NAME', 'ADDRESS', 'NODE', 'WAYPOINT', 'PROTOCOL'],
      ['bookinfo', 'db', 'db.example.com', '', 'None', 'TCP'],
      ['bookinfo', 'ratings-v1-abc', '10.244.2.54', 'worker2', 'waypoint', 'HBONE'],
      ['bookinfo', 'waypoint-xyz', '10.244.2.52', 'worker2', 'None', 'TCP'],
    ]);
    expect(serviceRows(istio)).toEqual([
      ['NAMESPACE', 'SERVICE NAME', 'SERVICE VIP', 'WAYPOINT', 'ENDPOINTS'],
      ['bookinfo', 'ratings', '10.96.1.1,fd00::1', 'waypoint', '1/2'],
      ['bookinfo', 'waypoint', '10.96.65.117', 'None', '0/0'],
    ]);
    expect(policyRows(istio)[1]).toEqual(['default', 'allow-nothing', 'Allow', 'Namespace']);
  });

  it('certificates: decimal serials in hex, roots from rootCerts, "Unavailable: why" as Unavailable', () => {
    expect(table(certificateRows(istio, NOW), WAYPOINT_TABLE)).toBe([
      'CERTIFICATE NAME                                     TYPE     STATUS          VALID CERT     SERIAL NUMBER                        NOT AFTER                NOT BEFORE',
      'spiffe://cluster.local/ns/istio-system/sa/istiod     Leaf     Available       true           e5dfb59150b2ba7f108d93dcec5aa613     2033-03-22T13:04:57Z     2023-03-21T13:02:57Z',
      'spiffe://cluster.local/ns/istio-system/sa/istiod     Root     Available       false          8a516645c40ce76c2c0d27ab4e2461c1     2022-03-18T13:04:49Z     2022-03-21T13:04:49Z',
      'spiffe://cluster.local/ns/istio-system/sa/other      NA       Unavailable     false          NA                                   NA                       NA',
      '',
    ].join('\n'));
  });

  it('a legacy chain without rootCerts ends with the Root', () => {
    const d = normalizeConfigDump({ workloads: [{ workloadIps: [] }], certificates: [{ identity: 'i', state: 'Available', certChain: [{ serialNumber: '1' }, { serialNumber: '2' }, { serialNumber: '255' }] }] });
    expect(certificateRows(d, NOW).slice(1).map((r) => `${r[1]} ${r[4]}`)).toEqual(['Leaf 1', 'Intermediate 2', 'Root ff']);
  });
});

describe('ztunnel-config over the older ambient-mesh dialect (before our ztunnel served Istio\'s shape)', () => {
  const old = normalizeConfigDump({
    workloads: [
      { uid: 'u1', name: 'echo', namespace: 'a', addresses: ['10.1.0.5'], node: 'n1', tunnelProtocol: 'NONE', status: 'HEALTHY', waypoint: { kind: 'address', network: '', address: '10.96.0.30', hboneMtlsPort: 15008 } },
    ],
    services: [
      { name: 'echo', namespace: 'a', hostname: 'echo.a.svc.cluster.local', vips: [{ network: '', address: '10.96.0.20' }], endpoints: ['u1', 'gone'] },
      { name: 'waypoint', namespace: 'a', hostname: 'waypoint.a.svc.cluster.local', vips: [{ network: '', address: '10.96.0.30' }], endpoints: [] },
    ],
    certificates: [{ identity: 'i', state: 'Available', certChain: [{ serialNumber: 'E6530', validFrom: '2026-01-10T11:59:00.000Z', expirationTime: '2026-01-11T12:00:00.000Z' }] }],
  });

  it('still reads addresses, tunnelProtocol, VIP objects, endpoint uid lists and hex serials', () => {
    expect(old.dialect).toBe('ambient-mesh');
    expect(workloadRows(old, {})[1]).toEqual(['a', 'echo', '10.1.0.5', 'n1', 'waypoint', 'TCP']);
    expect(serviceRows(old)[1]).toEqual(['a', 'echo', '10.96.0.20', 'None', '1/2']);
    expect(certificateRows(old, NOW)[1]).toEqual(['i', 'Leaf', 'Available', 'true', 'e6530', '2026-01-11T12:00:00.000Z', '2026-01-10T11:59:00.000Z']);
  });
});

describe('helpers', () => {
  it.each([['WORKLOAD_SELECTOR', 'WorkloadSelector'], ['ALLOW', 'Allow'], ['Namespace', 'Namespace'], ['HEALTHY', 'Healthy']])('pascal(%s)', (a, b) => expect(pascal(a)).toBe(b));
  it.each([
    ['E6530', 'ambient-mesh', 'e6530'], ['0A', 'ambient-mesh', 'a'], ['1234', 'ambient-mesh', '1234'], ['255', 'istio', 'ff'], ['', 'istio', 'NA'],
  ] as const)('serialHex(%s, %s) = %s', (s, d, want) => expect(serialHex(s, d)).toBe(want));

  it('refuses a dump that is not JSON, and an unknown output format', () => {
    expect(() => parseConfigDump('<html>')).toThrow(/^error unmarshalling config dump response from ztunnel: /);
    expect(() => renderConfigDump(ours, { kind: 'workloads', output: 'xml' as 'json', now: NOW })).toThrow('output format "xml" not supported');
  });
});
