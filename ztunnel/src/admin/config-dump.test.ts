import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CertificateDumpEntry } from '../../../lib/identity/secret-manager.ts';
import { ProxyState } from '../state/proxy-state.ts';
import type { Policy, Service, Workload } from '../state/types.ts';
import { configDump } from './config-dump.ts';

// The dump the CLI's unit tests read (cli/src/ztunnel/testdata) is this function's output over these
// inputs; `UPDATE_GOLDEN=1 vitest run ztunnel/src/admin/config-dump.test.ts` rewrites it.
const INPUTS = new URL('./testdata/config-dump-inputs.json', import.meta.url);
const GOLDEN = new URL('../../../cli/src/ztunnel/testdata/ambient-config-dump.json', import.meta.url);

interface Inputs { workloads: Workload[]; services: Service[]; policies: Policy[]; certificates: CertificateDumpEntry[]; staticConfig: Record<string, unknown>; version: string }

function dumpOf(inputs: Inputs): Record<string, unknown> {
  const state = new ProxyState();
  for (const s of inputs.services) state.upsertService(s);
  for (const w of inputs.workloads) state.upsertWorkload(w);
  for (const p of inputs.policies) state.upsertPolicy(p);
  return configDump({ state, certificates: () => inputs.certificates, staticConfig: inputs.staticConfig, version: inputs.version });
}

const inputs = JSON.parse(readFileSync(INPUTS, 'utf8')) as Inputs;
const dump = dumpOf(inputs);
type Rec = Record<string, unknown>;
const find = (list: unknown, key: string, value: string): Rec => (list as Rec[]).find((x) => x[key] === value)!;

describe('ztunnel /config_dump', () => {
  it('is the golden file the CLI tests read', () => {
    const text = `${JSON.stringify(dump, null, 2)}\n`;
    if (process.env.UPDATE_GOLDEN) writeFileSync(GOLDEN, text);
    expect(text).toBe(readFileSync(GOLDEN, 'utf8'));
  });

  it('workloads in Istio ztunnel\'s shape, sorted by uid', () => {
    const ws = dump.workloads as Rec[];
    expect(ws.map((w) => w.uid)).toEqual([...ws.map((w) => w.uid as string)].sort());
    expect(find(ws, 'name', 'echo-7d9f-abcde')).toEqual({
      workloadIps: ['10.244.2.7'],
      waypoint: { destination: 'app-b/waypoint.app-b.svc.cluster.local', hboneMtlsPort: 15008 },
      protocol: 'HBONE',
      uid: 'Kubernetes//Pod/app-b/echo-7d9f-abcde',
      name: 'echo-7d9f-abcde',
      namespace: 'app-b',
      trustDomain: 'cluster.local',
      serviceAccount: 'echo',
      workloadName: 'echo',
      workloadType: 'pod',
      canonicalName: 'echo-7d9f-abcde',
      canonicalRevision: 'latest',
      node: 'node2',
      status: 'Healthy',
      clusterId: 'Kubernetes',
      services: ['app-b/echo.app-b.svc.cluster.local'],
      capacity: 1,
    });
    expect(find(ws, 'name', 'outsider')).toMatchObject({ protocol: 'TCP', status: 'Healthy' });
    expect(find(ws, 'name', 'echo-7d9f-fghij')).toMatchObject({ status: 'Unhealthy' });
  });

  it('services: "network/ip" VIPs, a port map, endpoints keyed by workload uid', () => {
    expect(find(dump.services, 'name', 'echo')).toEqual({
      name: 'echo',
      namespace: 'app-b',
      hostname: 'echo.app-b.svc.cluster.local',
      vips: ['/10.96.0.20'],
      ports: { 80: 9000 },
      endpoints: {
        'Kubernetes//Pod/app-b/echo-7d9f-abcde': { workloadUid: 'Kubernetes//Pod/app-b/echo-7d9f-abcde', port: { 80: 9000 }, status: 'Healthy' },
        'Kubernetes//Pod/app-b/echo-7d9f-fghij': { workloadUid: 'Kubernetes//Pod/app-b/echo-7d9f-fghij', port: { 80: 9000 }, status: 'Unhealthy' },
      },
      subjectAltNames: [],
      waypoint: { destination: '/10.96.0.30', hboneMtlsPort: 15008 },
    });
  });

  it('policies: PascalCase enums, only the conditions a match has, string matches as {Kind: value}', () => {
    expect(find(dump.policies, 'name', 'deny-one')).toEqual({
      name: 'deny-one', namespace: 'app-b', scope: 'Namespace', action: 'Deny',
      rules: [[[{ principals: [{ Exact: 'spiffe://cluster.local/ns/app-a/sa/sleep' }] }]]],
      dryRun: false,
    });
    expect(find(dump.policies, 'name', 'allow-sleep')).toMatchObject({ scope: 'WorkloadSelector', action: 'Allow' });
  });

  it('policy matches of every kind', () => {
    const state = new ProxyState();
    const none = { namespaces: [], notNamespaces: [], principals: [], notPrincipals: [], sourceIps: [], notSourceIps: [], destinationIps: [], notDestinationIps: [], destinationPorts: [], notDestinationPorts: [] };
    state.upsertPolicy({
      name: 'p', namespace: 'n', scope: 'GLOBAL', action: 'ALLOW', dryRun: true,
      rules: [[[{ ...none, namespaces: [{ kind: 'prefix', value: 'app-' }], notPrincipals: [{ kind: 'suffix', value: '/sa/x' }, { kind: 'presence' }], sourceIps: [{ address: '10.0.0.0', prefixLength: 8 }], notDestinationIps: [{ address: 'fd00::', prefixLength: 64 }], destinationPorts: [80, 443] }]]],
    });
    const [p] = configDump({ state, certificates: () => [], staticConfig: {}, version: 'v' }).policies as Rec[];
    expect(p).toEqual({
      name: 'p', namespace: 'n', scope: 'Global', action: 'Allow', dryRun: true,
      rules: [[[{ namespaces: [{ Prefix: 'app-' }], notPrincipals: [{ Suffix: '/sa/x' }, { Presence: [] }], sourceIps: ['10.0.0.0/8'], notDestinationIps: ['fd00::/64'], destinationPorts: [80, 443] }]]],
    });
  });

  it('certificates: decimal serials, times to the second, roots in rootCerts', () => {
    const [sleep, echo] = dump.certificates as Rec[];
    expect(sleep).toMatchObject({
      identity: 'spiffe://cluster.local/ns/app-a/sa/sleep',
      state: 'Available',
      certChain: [{ serialNumber: BigInt('0xE65306E2DCBFE5AC6E4FDF89204FDFA2').toString(), validFrom: '2026-01-10T11:59:00Z', expirationTime: '2026-01-11T12:00:00Z' }],
      rootCerts: [{ serialNumber: BigInt('0x6DF138FD16DA2EBBF650BAE20D130465').toString(), validFrom: '2026-01-01T00:00:00Z', expirationTime: '2036-01-01T00:00:00Z' }],
    });
    expect(echo).toEqual({ identity: 'spiffe://cluster.local/ns/app-b/sa/echo', state: 'Initializing', certChain: [], rootCerts: [] });
  });
});
