// PeerAuthentication → DENY Authorizations and the names workloads list (fact sheet §8.3). The
// conversion cases mirror istiod's own test inputs and outputs for ambient.
import { describe, expect, it } from 'vitest';
import { AuthorizationAction, AuthorizationScope, type Authorization, type AuthorizationMatch, type AuthorizationRule } from '../../../lib/proto/index.ts';
import { emptyMatch } from './authorization.ts';
import type { PeerAuthentication, PeerAuthenticationSpec } from './istio-types.ts';
import { modelOptions } from './options.ts';
import { convertPeerAuthentication, peerAuthenticationPolicies, peerAuthenticationPoliciesForWorkload, staticStrictPolicy } from './peer-authentication.ts';
import { peerAuth, wireAuthorization } from './test-fixtures.ts';

const options = modelOptions();
const presence = { matchType: { $case: 'presence' as const, presence: {} } };
const m = (fields: Partial<AuthorizationMatch>): AuthorizationMatch => ({ ...emptyMatch(), ...fields });
const noId = m({ notPrincipals: [presence] });
const rule = (...clauses: AuthorizationMatch[]): AuthorizationRule => ({ clauses: clauses.map((x) => ({ matches: [x] })) });
const sel = { matchLabels: { app: 'a' } };

const mesh = (mode: string) => peerAuth('istio-system', 'default-mesh', { mtls: { mode } } as PeerAuthenticationSpec);
const nsPa = (mode: string, ns = 'foo') => peerAuth(ns, 'default-foo', { mtls: { mode } } as PeerAuthenticationSpec);
const workloadPa = (spec: PeerAuthenticationSpec, name = 'workload', ns = 'foo') => peerAuth(ns, name, { selector: sel, ...spec });

describe('staticStrictPolicy', () => {
  it('denies connections without a peer identity', () => {
    const expected: Authorization = {
      name: 'istio_converted_static_strict',
      namespace: 'istio-system',
      scope: AuthorizationScope.WORKLOAD_SELECTOR,
      action: AuthorizationAction.DENY,
      rules: [rule(noId)],
      dryRun: false,
      extensions: [],
    };
    expect(staticStrictPolicy('istio-system')).toEqual(expected);
    expect(wireAuthorization(staticStrictPolicy('istio-system'))).toEqual(expected);
  });
});

describe('convertPeerAuthentication', () => {
  const cases: [string, PeerAuthentication, PeerAuthentication[], AuthorizationRule[] | undefined][] = [
    ['STRICT + PERMISSIVE port', workloadPa({ mtls: { mode: 'STRICT' }, portLevelMtls: { '9090': { mode: 'PERMISSIVE' } } }), [], [rule(noId, m({ notDestinationPorts: [9090] }))]],
    ['STRICT + DISABLE port', workloadPa({ mtls: { mode: 'STRICT' }, portLevelMtls: { '9090': { mode: 'DISABLE' } } }), [], [rule(noId, m({ notDestinationPorts: [9090] }))]],
    ['STRICT + STRICT port', workloadPa({ mtls: { mode: 'STRICT' }, portLevelMtls: { '8080': { mode: 'STRICT' } } }), [], undefined],
    [
      'STRICT + STRICT and PERMISSIVE ports',
      workloadPa({ mtls: { mode: 'STRICT' }, portLevelMtls: { '9090': { mode: 'STRICT' }, '8080': { mode: 'PERMISSIVE' } } }),
      [],
      [rule(noId, m({ notDestinationPorts: [8080] }))],
    ],
    [
      'STRICT + several plaintext ports',
      workloadPa({ mtls: { mode: 'STRICT' }, portLevelMtls: { '9090': { mode: 'DISABLE' }, '8080': { mode: 'PERMISSIVE' }, '7070': { mode: 'STRICT' } } }),
      [],
      [rule(noId, m({ notDestinationPorts: [8080] }), m({ notDestinationPorts: [9090] }))],
    ],
    ['PERMISSIVE + STRICT port', workloadPa({ mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { '9090': { mode: 'STRICT' } } }), [], [rule(m({ notPrincipals: [presence], destinationPorts: [9090] }))]],
    ['DISABLE + STRICT port', workloadPa({ mtls: { mode: 'DISABLE' }, portLevelMtls: { '9090': { mode: 'STRICT' } } }), [], [rule(m({ notPrincipals: [presence], destinationPorts: [9090] }))]],
    [
      'PERMISSIVE + STRICT and PERMISSIVE ports',
      workloadPa({ mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { '9090': { mode: 'STRICT' }, '8080': { mode: 'PERMISSIVE' } } }),
      [],
      [rule(m({ notPrincipals: [presence], destinationPorts: [9090] }))],
    ],
    ['UNSET + STRICT port', workloadPa({ mtls: { mode: 'UNSET' }, portLevelMtls: { '8080': { mode: 'STRICT' } } }), [], [rule(m({ notPrincipals: [presence], destinationPorts: [8080] }))]],
    ['PERMISSIVE + PERMISSIVE port', workloadPa({ mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { '9090': { mode: 'PERMISSIVE' } } }), [], undefined],
    [
      'mesh PERMISSIVE, namespace PERMISSIVE, UNSET workload, two STRICT ports',
      workloadPa({ portLevelMtls: { '9090': { mode: 'STRICT' }, '8080': { mode: 'STRICT' } } }),
      [mesh('PERMISSIVE'), nsPa('PERMISSIVE')],
      [rule(m({ notPrincipals: [presence], destinationPorts: [8080] })), rule(m({ notPrincipals: [presence], destinationPorts: [9090] }))],
    ],
    ['mesh PERMISSIVE, UNSET workload, PERMISSIVE port', workloadPa({ portLevelMtls: { '9090': { mode: 'PERMISSIVE' } } }), [mesh('PERMISSIVE')], undefined],
    [
      'mesh PERMISSIVE, namespace STRICT, UNSET workload, PERMISSIVE port',
      workloadPa({ portLevelMtls: { '9090': { mode: 'PERMISSIVE' } } }),
      [mesh('PERMISSIVE'), nsPa('STRICT')],
      [rule(m({ notDestinationPorts: [9090] }), noId)],
    ],
    [
      'mesh PERMISSIVE, namespace UNSET, UNSET workload, mixed ports',
      workloadPa({ portLevelMtls: { '9090': { mode: 'STRICT' }, '8080': { mode: 'PERMISSIVE' } } }),
      [mesh('PERMISSIVE'), nsPa('UNSET')],
      [rule(m({ notPrincipals: [presence], destinationPorts: [9090] }))],
    ],
    [
      'mesh STRICT, namespace PERMISSIVE, UNSET workload, STRICT port',
      workloadPa({ portLevelMtls: { '9090': { mode: 'STRICT' } } }),
      [mesh('STRICT'), nsPa('PERMISSIVE')],
      [rule(m({ notPrincipals: [presence], destinationPorts: [9090] }))],
    ],
    ['mesh STRICT, UNSET workload, PERMISSIVE port', workloadPa({ portLevelMtls: { '9090': { mode: 'PERMISSIVE' } } }), [mesh('STRICT')], [rule(m({ notDestinationPorts: [9090] }), noId)]],
    [
      'mesh STRICT, UNSET workload, PERMISSIVE and STRICT ports',
      workloadPa({ portLevelMtls: { '9090': { mode: 'PERMISSIVE' }, '8080': { mode: 'STRICT' } } }),
      [mesh('STRICT')],
      [rule(m({ notDestinationPorts: [9090] }), noId)],
    ],
    ['namespace STRICT, UNSET workload, STRICT port', workloadPa({ portLevelMtls: { '9090': { mode: 'STRICT' } } }), [nsPa('STRICT')], undefined],
    [
      'mesh STRICT, namespace UNSET, UNSET workload, PERMISSIVE port: the namespace inherits STRICT',
      workloadPa({ portLevelMtls: { '9090': { mode: 'PERMISSIVE' } } }),
      [mesh('STRICT'), nsPa('UNSET')],
      [rule(m({ notDestinationPorts: [9090] }), noId)],
    ],
    [
      'mesh STRICT, PERMISSIVE workload, STRICT port: the port stays STRICT',
      workloadPa({ mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { '9090': { mode: 'STRICT' } } }),
      [mesh('STRICT')],
      [rule(m({ notPrincipals: [presence], destinationPorts: [9090] }))],
    ],
    ['no port-level mTLS', workloadPa({ mtls: { mode: 'STRICT' } }), [], undefined],
    ['namespace-wide', peerAuth('foo', 'ns', { mtls: { mode: 'STRICT' }, portLevelMtls: { '80': { mode: 'PERMISSIVE' } } }), [], undefined],
    ['empty selector', peerAuth('foo', 'ns', { selector: { matchLabels: {} }, mtls: { mode: 'STRICT' }, portLevelMtls: { '80': { mode: 'PERMISSIVE' } } }), [], undefined],
    ['in the root namespace', workloadPa({ mtls: { mode: 'STRICT' }, portLevelMtls: { '80': { mode: 'PERMISSIVE' } } }, 'w', 'istio-system'), [], undefined],
  ];

  it.each(cases)('%s', (_name, pa, others, rules) => {
    const a = convertPeerAuthentication(pa, [pa, ...others], options);
    if (rules === undefined) {
      expect(a).toBeUndefined();
      return;
    }
    const expected: Authorization = {
      name: `converted_peer_authentication_${pa.metadata.name}`,
      namespace: pa.metadata.namespace!,
      scope: AuthorizationScope.WORKLOAD_SELECTOR,
      action: AuthorizationAction.DENY,
      rules,
      dryRun: false,
      extensions: [],
    };
    expect(a).toEqual(expected);
    expect(wireAuthorization(a!)).toEqual(expected);
  });

  it('uses the oldest namespace PeerAuthentication', () => {
    const pa = workloadPa({ portLevelMtls: { '9090': { mode: 'PERMISSIVE' } } });
    const older = peerAuth('foo', 'older', { mtls: { mode: 'STRICT' } }, '2025-01-01T00:00:00Z');
    const newer = peerAuth('foo', 'newer', { mtls: { mode: 'PERMISSIVE' } }, '2026-06-01T00:00:00Z');
    expect(convertPeerAuthentication(pa, [pa, newer, older], options)?.rules).toEqual([rule(m({ notDestinationPorts: [9090] }), noId)]);
  });
});

describe('peerAuthenticationPolicies', () => {
  it('sends nothing without PeerAuthentications', () => {
    expect(peerAuthenticationPolicies([], options)).toEqual([]);
  });

  it('sends the static policy whenever one exists, plus converted ones', () => {
    const pas = [nsPa('PERMISSIVE'), workloadPa({ mtls: { mode: 'STRICT' }, portLevelMtls: { '9090': { mode: 'PERMISSIVE' } } })];
    expect(peerAuthenticationPolicies(pas, options).map((a) => `${a.namespace}/${a.name}`)).toEqual(['istio-system/istio_converted_static_strict', 'foo/converted_peer_authentication_workload']);
    expect(peerAuthenticationPolicies(pas, modelOptions({ rootNamespace: 'mesh' }))[0]?.namespace).toBe('mesh');
  });
});

describe('peerAuthenticationPoliciesForWorkload', () => {
  const STATIC = 'istio-system/istio_converted_static_strict';
  const CONVERTED = 'foo/converted_peer_authentication_workload';
  const names = (pas: PeerAuthentication[], labels: Record<string, string> = { app: 'a' }, ns = 'foo') => peerAuthenticationPoliciesForWorkload(pas, ns, labels, 'istio-system');

  it.each<[string, PeerAuthentication[], string[]]>([
    ['none', [], []],
    ['mesh STRICT', [mesh('STRICT')], [STATIC]],
    ['mesh PERMISSIVE', [mesh('PERMISSIVE')], []],
    ['namespace STRICT', [nsPa('STRICT')], [STATIC]],
    ['namespace STRICT elsewhere', [nsPa('STRICT', 'bar')], []],
    ['mesh STRICT, namespace PERMISSIVE', [mesh('STRICT'), nsPa('PERMISSIVE')], []],
    ['mesh STRICT, namespace DISABLE', [mesh('STRICT'), nsPa('DISABLE')], []],
    ['mesh STRICT, namespace UNSET', [mesh('STRICT'), nsPa('UNSET')], [STATIC]],
    ['mesh PERMISSIVE, namespace STRICT', [mesh('PERMISSIVE'), nsPa('STRICT')], [STATIC]],
    ['workload STRICT', [workloadPa({ mtls: { mode: 'STRICT' } })], [STATIC]],
    ['namespace STRICT, workload PERMISSIVE', [nsPa('STRICT'), workloadPa({ mtls: { mode: 'PERMISSIVE' } })], []],
    ['namespace STRICT, workload UNSET', [nsPa('STRICT'), workloadPa({ mtls: { mode: 'UNSET' } })], [STATIC]],
    ['workload selector does not match', [peerAuth('foo', 'other', { selector: { matchLabels: { app: 'z' } }, mtls: { mode: 'STRICT' } })], []],
    ['workload STRICT, PERMISSIVE port', [workloadPa({ mtls: { mode: 'STRICT' }, portLevelMtls: { '9090': { mode: 'PERMISSIVE' } } })], [CONVERTED]],
    ['workload STRICT, STRICT port', [workloadPa({ mtls: { mode: 'STRICT' }, portLevelMtls: { '9090': { mode: 'STRICT' } } })], [STATIC]],
    ['workload PERMISSIVE, STRICT port', [workloadPa({ mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { '9090': { mode: 'STRICT' } } })], [CONVERTED]],
    ['workload PERMISSIVE, PERMISSIVE port', [workloadPa({ mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { '9090': { mode: 'PERMISSIVE' } } })], []],
    ['namespace STRICT, workload UNSET, PERMISSIVE port', [nsPa('STRICT'), workloadPa({ portLevelMtls: { '9090': { mode: 'PERMISSIVE' } } })], [CONVERTED]],
    ['namespace STRICT, workload UNSET, STRICT port', [nsPa('STRICT'), workloadPa({ portLevelMtls: { '9090': { mode: 'STRICT' } } })], [STATIC]],
    ['namespace PERMISSIVE, workload UNSET, STRICT port', [nsPa('PERMISSIVE'), workloadPa({ portLevelMtls: { '9090': { mode: 'STRICT' } } })], [CONVERTED]],
    ['namespace PERMISSIVE, workload UNSET, PERMISSIVE port', [nsPa('PERMISSIVE'), workloadPa({ portLevelMtls: { '9090': { mode: 'PERMISSIVE' } } })], []],
    ['mesh STRICT, workload PERMISSIVE, STRICT port', [mesh('STRICT'), workloadPa({ mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { '9090': { mode: 'STRICT' } } })], [CONVERTED]],
    ['a selector PeerAuthentication in the root namespace is ignored', [peerAuth('istio-system', 'root-sel', { selector: sel, mtls: { mode: 'STRICT' } })], []],
  ])('%s', (_name, pas, expected) => {
    expect(names(pas)).toEqual(expected);
  });

  it('a pod in the root namespace follows the mesh policy only', () => {
    const pas = [mesh('STRICT'), peerAuth('istio-system', 'root-sel', { selector: sel, mtls: { mode: 'PERMISSIVE' } })];
    expect(names(pas, { app: 'a' }, 'istio-system')).toEqual([STATIC]);
  });

  it('the oldest of several selecting PeerAuthentications wins', () => {
    const old = workloadPa({ mtls: { mode: 'STRICT' } }, 'old');
    old.metadata.creationTimestamp = new Date('2025-01-01T00:00:00Z');
    const young = workloadPa({ mtls: { mode: 'PERMISSIVE' } }, 'young');
    expect(names([young, old])).toEqual([STATIC]);
    old.metadata.creationTimestamp = new Date('2027-01-01T00:00:00Z');
    expect(names([young, old])).toEqual([]);
  });

  it('the oldest mesh PeerAuthentication wins', () => {
    const a = peerAuth('istio-system', 'a', { mtls: { mode: 'PERMISSIVE' } }, '2026-02-01T00:00:00Z');
    const b = peerAuth('istio-system', 'b', { mtls: { mode: 'STRICT' } }, '2026-01-01T00:00:00Z');
    expect(names([a, b])).toEqual([STATIC]);
  });

  it('accepts creation timestamps as strings (raw apiserver JSON)', () => {
    const a = peerAuth('istio-system', 'a', { mtls: { mode: 'PERMISSIVE' } });
    const b = peerAuth('istio-system', 'b', { mtls: { mode: 'STRICT' } });
    (a.metadata as { creationTimestamp?: unknown }).creationTimestamp = '2026-02-01T00:00:00Z';
    (b.metadata as { creationTimestamp?: unknown }).creationTimestamp = '2026-01-01T00:00:00Z';
    expect(names([a, b])).toEqual([STATIC]);
  });

  it('every name a workload lists is a policy that is sent', () => {
    const scenarios: PeerAuthentication[][] = [
      [mesh('STRICT'), workloadPa({ mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { '9090': { mode: 'STRICT' } } })],
      [mesh('STRICT'), nsPa('UNSET'), workloadPa({ portLevelMtls: { '9090': { mode: 'PERMISSIVE' } } })],
      [nsPa('STRICT'), workloadPa({ portLevelMtls: { '9090': { mode: 'DISABLE' } } })],
      [workloadPa({ mtls: { mode: 'STRICT' }, portLevelMtls: { '1': { mode: 'PERMISSIVE' }, '2': { mode: 'STRICT' } } })],
    ];
    for (const pas of scenarios) {
      const sent = new Set(peerAuthenticationPolicies(pas, options).map((a) => `${a.namespace}/${a.name}`));
      const listed = names(pas);
      expect(listed.length).toBeGreaterThan(0);
      for (const n of listed) expect(sent.has(n), `${n} in ${JSON.stringify(pas.map((p) => p.metadata.name))}`).toBe(true);
    }
  });
});
