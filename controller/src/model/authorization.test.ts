// AuthorizationPolicy → istio.security.Authorization (fact sheet §4.5–4.7).
import { describe, expect, it } from 'vitest';
import {
  AuthorizationAction,
  AuthorizationScope,
  type Authorization,
  type AuthorizationMatch,
  type AuthorizationRule,
  type IpPrefix,
  type StringMatch,
} from '../../../lib/proto/index.ts';
import { convertAuthorizationPolicy, emptyMatch, selectorPoliciesForWorkload, selectorPolicyRefs, selects, toStringMatch, type AuthorizationConversion } from './authorization.ts';
import { parseIp, parseIpBlock } from './ip.ts';
import type { AuthorizationPolicy, AuthorizationPolicySpec } from './istio-types.ts';
import { modelOptions } from './options.ts';
import { authzPolicy, peerAuth, wireAuthorization } from './test-fixtures.ts';

const options = modelOptions();

function converted(r: AuthorizationConversion): { authorization: Authorization; warnings: string[] } {
  if (r.kind !== 'converted') throw new Error(`not converted: ${JSON.stringify(r)}`);
  return r;
}

function convert(spec: AuthorizationPolicySpec, ns = 'default', name = 'p', annotations?: Record<string, string>) {
  return converted(convertAuthorizationPolicy(authzPolicy(ns, name, spec, annotations), options));
}

const exact = (v: string): StringMatch => ({ matchType: { $case: 'exact', exact: v } });
const presence: StringMatch = { matchType: { $case: 'presence', presence: {} } };
const prefix = (v: string): IpPrefix => {
  const p = parseIpBlock(v)!;
  return { address: p.address, length: p.length };
};
const m = (fields: Partial<AuthorizationMatch>): AuthorizationMatch => ({ ...emptyMatch(), ...fields });
/** One rule of AND-ed clauses, each clause the OR of its matches. */
const rule = (...clauses: AuthorizationMatch[][]): AuthorizationRule => ({ clauses: clauses.map((matches) => ({ matches })) });

// ---- ztunnel's evaluation (fact sheet §4.5, §4.7), used to show our output decides like istiod's ----

interface Conn {
  /** `spiffe://td/ns/<ns>/sa/<sa>`, or undefined for plaintext. */
  identity?: string;
  src: string;
  dst: string;
  port: number;
}

function inPrefix(ip: string, p: IpPrefix): boolean {
  const a = parseIp(ip)!;
  if (a.length !== p.address.length) return false;
  for (let bit = 0; bit < p.length; bit++) {
    const mask = 0x80 >> bit % 8;
    if ((a[bit >> 3]! & mask) !== (p.address[bit >> 3]! & mask)) return false;
  }
  return true;
}

function strMatches(s: StringMatch, v: string): boolean {
  const t = s.matchType!;
  switch (t.$case) {
    case 'exact':
      return v === t.exact;
    case 'prefix':
      return v.startsWith(t.prefix);
    case 'suffix':
      return v.endsWith(t.suffix);
    case 'presence':
      return v !== '';
  }
}

/** A real ztunnel's matching: no rules matches nothing, an empty match is skipped, an empty clause passes. */
function ztunnelMatches(a: Authorization, c: Conn): boolean {
  const principal = c.identity?.startsWith('spiffe://') ? c.identity.slice(9) : undefined;
  const parts = principal?.split('/');
  const ns = parts?.[2] ?? '';
  const sa = parts?.[4] ?? '';
  const both = <T>(pos: T[], neg: T[], f: (x: T) => boolean) => (pos.length === 0 || pos.some(f)) && (neg.length === 0 || !neg.some(f));
  const one = (x: AuthorizationMatch) =>
    both(x.destinationIps, x.notDestinationIps, (p) => inPrefix(c.dst, p)) &&
    both(x.sourceIps, x.notSourceIps, (p) => inPrefix(c.src, p)) &&
    both(x.destinationPorts, x.notDestinationPorts, (p) => p === c.port) &&
    both(x.serviceAccounts, x.notServiceAccounts, (s) => principal !== undefined && s.namespace === ns && s.serviceAccount === sa) &&
    both(x.principals, x.notPrincipals, (s) => principal !== undefined && strMatches(s, principal)) &&
    both(x.namespaces, x.notNamespaces, (s) => strMatches(s, ns));
  const isEmpty = (x: AuthorizationMatch) => Object.values(x).every((v: unknown[]) => v.length === 0);
  return a.rules.some((r) => r.clauses.every((cl) => cl.matches.length === 0 || cl.matches.some((x) => !isEmpty(x) && one(x))));
}

describe('convertAuthorizationPolicy: scope and action', () => {
  it.each<[string, string, AuthorizationPolicySpec, AuthorizationScope]>([
    ['namespace policy', 'default', {}, AuthorizationScope.NAMESPACE],
    ['root namespace policy', 'istio-system', {}, AuthorizationScope.GLOBAL],
    ['selector policy', 'default', { selector: { matchLabels: { app: 'a' } } }, AuthorizationScope.WORKLOAD_SELECTOR],
    ['selector policy in the root namespace', 'istio-system', { selector: { matchLabels: { app: 'a' } } }, AuthorizationScope.WORKLOAD_SELECTOR],
  ])('%s', (_name, ns, spec, scope) => {
    expect(convert(spec, ns).authorization.scope).toBe(scope);
  });

  it('uses the configured root namespace', () => {
    const r = converted(convertAuthorizationPolicy(authzPolicy('mesh-root', 'p', {}), modelOptions({ rootNamespace: 'mesh-root' })));
    expect(r.authorization.scope).toBe(AuthorizationScope.GLOBAL);
  });

  it.each<[AuthorizationPolicySpec['action'], AuthorizationAction]>([
    [undefined, AuthorizationAction.ALLOW],
    ['ALLOW', AuthorizationAction.ALLOW],
    ['DENY', AuthorizationAction.DENY],
  ])('action %s', (action, expected) => {
    expect(convert(action ? { action } : {}).authorization.action).toBe(expected);
  });

  it.each(['CUSTOM', 'AUDIT'] as const)('refuses %s', (action) => {
    const r = convertAuthorizationPolicy(authzPolicy('default', 'p', { action, provider: { name: 'ext' }, rules: [{}] }), options);
    expect(r).toMatchObject({ kind: 'refused', reason: 'UnsupportedAction' });
  });

  it.each<[string, AuthorizationPolicySpec]>([
    ['targetRefs', { targetRefs: [{ kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'waypoint' }], action: 'CUSTOM' }],
    ['targetRef', { targetRef: { kind: 'Service', name: 'echo' } }],
  ])('ignores waypoint policies (%s)', (_name, spec) => {
    expect(convertAuthorizationPolicy(authzPolicy('default', 'p', spec), options)).toEqual({ kind: 'ignored', reason: 'TargetRefs' });
  });

  it('ignores a dry-run waypoint policy instead of refusing it (the waypoint honours dry-run)', () => {
    const p = authzPolicy('default', 'p', { targetRefs: [{ kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'waypoint' }], rules: [{}] }, { 'istio.io/dry-run': 'true' });
    expect(convertAuthorizationPolicy(p, options)).toEqual({ kind: 'ignored', reason: 'TargetRefs' });
  });

  it('drops the L7 parts of a selector policy that also has methods, paths and hosts', () => {
    const r = convert({ rules: [{ to: [{ operation: { methods: ['GET'], paths: ['/a'], hosts: ['h'] } }] }, { from: [{ source: { namespaces: ['x'] } }] }] });
    // The L7 rule is gone (ALLOW allows less); the L4 rule stays.
    expect(r.authorization.rules).toHaveLength(1);
    expect(r.warnings.join(' ')).toMatch(/HTTP attributes found: hosts, methods, paths/);
  });

  it('names the policy after the object', () => {
    const a = convert({ action: 'DENY', rules: [{}] }, 'shop', 'deny-all').authorization;
    expect([a.namespace, a.name, a.dryRun, a.extensions]).toEqual(['shop', 'deny-all', false, []]);
  });
});

describe('convertAuthorizationPolicy: dry run', () => {
  const dry = (v: string) => authzPolicy('default', 'p', { action: 'DENY', rules: [{}] }, { 'istio.io/dry-run': v });
  it('is refused unless enabled', () => {
    expect(convertAuthorizationPolicy(dry('true'), options)).toMatchObject({ kind: 'refused', reason: 'DryRunDisabled' });
  });
  it('is sent with dry_run when enabled', () => {
    const a = converted(convertAuthorizationPolicy(dry('true'), modelOptions({ enableDryRunPolicies: true }))).authorization;
    expect(a.dryRun).toBe(true);
    expect(wireAuthorization(a).dryRun).toBe(true);
  });
  it.each(['false', '', 'maybe'])('%j is not dry run', (v) => {
    expect(converted(convertAuthorizationPolicy(dry(v), options)).authorization.dryRun).toBe(false);
  });
});

describe('convertAuthorizationPolicy: L4 rules', () => {
  it.each<[string, StringMatch]>([
    ['*', presence],
    ['*-suffix', { matchType: { $case: 'suffix', suffix: '-suffix' } }],
    ['prefix-*', { matchType: { $case: 'prefix', prefix: 'prefix-' } }],
    ['exact', exact('exact')],
    ['*a*', { matchType: { $case: 'suffix', suffix: 'a*' } }],
  ])('string match %j', (v, expected) => {
    expect(toStringMatch(v)).toEqual(expected);
  });

  it('translates sources', () => {
    const a = convert({
      rules: [
        {
          from: [
            {
              source: {
                principals: ['cluster.local/ns/a/sa/x', 'cluster.local/ns/b/*'],
                notPrincipals: ['*/sa/admin'],
                namespaces: ['a', 'team-*'],
                notNamespaces: ['kube-system'],
                ipBlocks: ['10.0.0.0/8', '192.168.1.1'],
                notIpBlocks: ['10.1.0.0/16', 'fd00::/8'],
              },
            },
          ],
        },
      ],
    }).authorization;
    expect(a.rules).toEqual([
      rule([
        m({
          principals: [exact('cluster.local/ns/a/sa/x'), { matchType: { $case: 'prefix', prefix: 'cluster.local/ns/b/' } }],
          notPrincipals: [{ matchType: { $case: 'suffix', suffix: '/sa/admin' } }],
          namespaces: [exact('a'), { matchType: { $case: 'prefix', prefix: 'team-' } }],
          notNamespaces: [exact('kube-system')],
          sourceIps: [prefix('10.0.0.0/8'), prefix('192.168.1.1')],
          notSourceIps: [prefix('10.1.0.0/16'), prefix('fd00::/8')],
        }),
      ]),
    ]);
    expect(wireAuthorization(a)).toEqual(a);
  });

  it('translates service accounts, bare names in the policy namespace', () => {
    const a = convert({ rules: [{ from: [{ source: { serviceAccounts: ['other/sa1', 'sa2'], notServiceAccounts: ['sa3'] } }] }] }, 'shop').authorization;
    expect(a.rules).toEqual([
      rule([
        m({
          serviceAccounts: [
            { namespace: 'other', serviceAccount: 'sa1' },
            { namespace: 'shop', serviceAccount: 'sa2' },
          ],
          notServiceAccounts: [{ namespace: 'shop', serviceAccount: 'sa3' }],
        }),
      ]),
    ]);
    expect(wireAuthorization(a)).toEqual(a);
  });

  it('translates to.operation ports', () => {
    const a = convert({ rules: [{ to: [{ operation: { ports: ['80', '8080'], notPorts: ['9090'] } }] }] }).authorization;
    expect(a.rules).toEqual([rule([m({ destinationPorts: [80, 8080], notDestinationPorts: [9090] })])]);
  });

  it('ANDs to, from and each when; ORs the entries of one list', () => {
    const a = convert({
      rules: [
        {
          from: [{ source: { namespaces: ['a'] } }, { source: { principals: ['cluster.local/ns/b/sa/x'] } }],
          to: [{ operation: { ports: ['80'] } }, { operation: { ports: ['443'] } }],
          when: [
            { key: 'source.ip', values: ['10.0.0.0/8'], notValues: ['10.9.0.0/16'] },
            { key: 'destination.port', values: ['80'] },
          ],
        },
      ],
    }).authorization;
    expect(a.rules).toEqual([
      rule(
        [m({ destinationPorts: [80] }), m({ destinationPorts: [443] })],
        [m({ namespaces: [exact('a')] }), m({ principals: [exact('cluster.local/ns/b/sa/x')] })],
        [m({ sourceIps: [prefix('10.0.0.0/8')], notSourceIps: [prefix('10.9.0.0/16')] })],
        [m({ destinationPorts: [80] })],
      ),
    ]);
  });

  it.each<[string, AuthorizationPolicySpec['rules'], AuthorizationMatch]>([
    ['source.ip', [{ when: [{ key: 'source.ip', values: ['1.2.3.4'] }] }], m({ sourceIps: [prefix('1.2.3.4')] })],
    ['source.namespace', [{ when: [{ key: 'source.namespace', values: ['a'], notValues: ['b'] }] }], m({ namespaces: [exact('a')], notNamespaces: [exact('b')] })],
    ['source.principal', [{ when: [{ key: 'source.principal', notValues: ['*'] }] }], m({ notPrincipals: [presence] })],
    ['destination.ip', [{ when: [{ key: 'destination.ip', values: ['10.96.0.0/12'] }] }], m({ destinationIps: [prefix('10.96.0.0/12')] })],
    ['destination.port', [{ when: [{ key: 'destination.port', notValues: ['15020'] }] }], m({ notDestinationPorts: [15020] })],
  ])('when %s', (_name, rules, match) => {
    expect(convert({ rules }).authorization.rules).toEqual([rule([match])]);
  });

  it('an empty rule matches everything; no rules match nothing', () => {
    expect(convert({ action: 'DENY', rules: [{}] }).authorization.rules).toEqual([{ clauses: [] }]);
    expect(convert({}).authorization.rules).toEqual([]);
    expect(convert({ rules: [] }).authorization.rules).toEqual([]);
  });

  it('drops values it cannot read, with warnings', () => {
    const r = convert({ rules: [{ from: [{ source: { ipBlocks: ['10.0.0.0/33', '10.0.0.1', ''] } }], to: [{ operation: { ports: ['http', '80', '70000', '0'] } }] }] });
    expect(r.authorization.rules).toEqual([rule([m({ destinationPorts: [80] })], [m({ sourceIps: [prefix('10.0.0.1')] })])]);
    expect(r.warnings).toEqual([
      'rules[0].to[0].operation.ports[0]: "http" is not a port; ignored',
      'rules[0].to[0].operation.ports[2]: "70000" is not a port; ignored',
      'rules[0].to[0].operation.ports[3]: "0" is not a port; ignored',
      'rules[0].from[0].source.ipBlocks[0]: "10.0.0.0/33" is not an IP address or CIDR; ignored',
    ]);
  });

  it('a list of only unreadable values can never match, so its rule goes', () => {
    const r = convert({ action: 'DENY', rules: [{ to: [{ operation: { ports: ['http'] } }] }] });
    expect(r.authorization.rules).toEqual([]);
  });

  it('warns about principals written with spiffe://, and sends them as written', () => {
    const r = convert({ rules: [{ from: [{ source: { principals: ['spiffe://cluster.local/ns/a/sa/b'] } }] }] });
    expect(r.authorization.rules).toEqual([rule([m({ principals: [exact('spiffe://cluster.local/ns/a/sa/b')] })])]);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toContain('without "spiffe://"');
  });

  it('ignores trust domains with a warning', () => {
    const r = convert({ rules: [{ from: [{ source: { namespaces: ['a'], trustDomains: ['other.td'] } }] }] });
    expect(r.authorization.rules).toEqual([rule([m({ namespaces: [exact('a')] })])]);
    expect(r.warnings[0]).toContain('trustDomains');
  });
});

describe('convertAuthorizationPolicy: L7 attributes', () => {
  it('ALLOW: a rule that needs L7 is dropped whole, the others stay', () => {
    const r = convert({
      rules: [
        { from: [{ source: { namespaces: ['a'] } }], to: [{ operation: { methods: ['GET'] } }] },
        { from: [{ source: { namespaces: ['b'] } }] },
        { when: [{ key: 'request.headers[x-user]', values: ['alice'] }] },
        { from: [{ source: { remoteIpBlocks: ['1.2.3.4'] } }] },
      ],
    });
    expect(r.authorization.rules).toEqual([rule([m({ namespaces: [exact('b')] })])]);
    expect(r.warnings).toEqual([expect.stringContaining('HTTP attributes found: methods, remoteIpBlocks, request.headers[x-user]; ALLOW rules using them are left out')]);
  });

  it('ALLOW with only L7 rules allows nothing', () => {
    const r = convert({ rules: [{ to: [{ operation: { paths: ['/admin'] } }] }] });
    expect(r.authorization.rules).toEqual([]);
    expect(r.authorization.action).toBe(AuthorizationAction.ALLOW);
  });

  it('DENY keeps the L4 part of a mixed match (denies more)', () => {
    const r = convert({
      action: 'DENY',
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/foo/sa/bar'], notRequestPrincipals: ['example.com/sub-1'] } }], to: [{ operation: { ports: ['80'], methods: ['POST'] } }] }],
    });
    expect(r.authorization.rules).toEqual([rule([m({ destinationPorts: [80] })], [m({ principals: [exact('cluster.local/ns/foo/sa/bar')] })])]);
    expect(r.warnings).toEqual([expect.stringContaining('enforced on its L4 parts alone')]);
  });

  it.each<[string, AuthorizationPolicySpec['rules']]>([
    ['only L7 source', [{ from: [{ source: { notRequestPrincipals: ['example.com/sub-1'] } }] }]],
    ['L4 from AND L7 when', [{ from: [{ source: { principals: ['cluster.local/ns/foo/sa/bar'] } }], when: [{ key: 'request.headers[x-token]', values: ['secret'] }] }]],
    ['L4 from AND L7-only to', [{ from: [{ source: { principals: ['cluster.local/ns/foo/sa/bar'] } }], to: [{ operation: { methods: ['GET'] } }] }]],
  ])('DENY: %s has no effect at ztunnel (as istiod reports)', (_name, rules) => {
    const r = convert({ action: 'DENY', rules });
    expect(r.authorization.rules).toEqual([]);
    expect(r.warnings).toEqual([expect.stringContaining('has no effect')]);
    for (const c of [{ src: '10.0.0.1', dst: '10.0.0.2', port: 80 }, { identity: 'spiffe://cluster.local/ns/foo/sa/bar', src: '10.0.0.1', dst: '10.0.0.2', port: 80 }]) {
      expect(ztunnelMatches(r.authorization, c)).toBe(false);
    }
  });

  it('DENY: an L7-only rule next to an empty rule still denies everything', () => {
    const r = convert({ action: 'DENY', rules: [{}, { from: [{ source: { notRequestPrincipals: ['x'] } }] }] });
    expect(r.authorization.rules).toEqual([{ clauses: [] }]);
    expect(r.warnings).toEqual([expect.stringContaining('enforced on its L4 parts alone')]);
  });

  it('decides every connection as the policy istiod sends would (its deny-groups case)', () => {
    const spec: AuthorizationPolicySpec = {
      action: 'DENY',
      rules: [
        { from: [{ source: { principals: ['from-mix-principal'], requestPrincipals: ['rp'], namespaces: ['from-mix-ns'] } }], to: [{ operation: { ports: ['80'] } }] },
        { from: [{ source: { principals: ['to-mix-principal'], namespaces: ['to-mix-ns'] } }], to: [{ operation: { ports: ['80'], methods: ['GET'] } }] },
        { from: [{ source: { requestPrincipals: ['l7-principal'] } }], to: [{ operation: { paths: ['/l7-foo'] } }] },
        { when: [{ key: 'source.namespace', values: ['when-l4-l7-ns'] }, { key: 'connection.sni', values: ['sni'] }] },
        { when: [{ key: 'source.namespace', values: ['when-l4-ns'] }, { key: 'source.ip', values: ['10.10.10.10'], notValues: ['20.20.20.20'] }] },
        { when: [{ key: 'connection.sni', values: ['sni'] }, { key: 'request.headers[X-header]', values: ['h'] }] },
      ],
    };
    // istiod's output for this policy, with the empty matches it leaves in.
    const e = emptyMatch();
    const istiod: Authorization = {
      name: 'p',
      namespace: 'default',
      scope: AuthorizationScope.NAMESPACE,
      action: AuthorizationAction.DENY,
      dryRun: false,
      extensions: [],
      rules: [
        rule([m({ destinationPorts: [80] })], [m({ namespaces: [exact('from-mix-ns')], principals: [exact('from-mix-principal')] })]),
        rule([m({ destinationPorts: [80] })], [m({ namespaces: [exact('to-mix-ns')], principals: [exact('to-mix-principal')] })]),
        rule([e], [e]),
        rule([m({ namespaces: [exact('when-l4-l7-ns')] })], [e]),
        rule([m({ namespaces: [exact('when-l4-ns')] })], [m({ sourceIps: [prefix('10.10.10.10')], notSourceIps: [prefix('20.20.20.20')] })]),
        rule([e], [e]),
      ],
    };
    const ours = convert(spec).authorization;
    expect(ours.rules).toEqual(istiod.rules.filter((_r, i) => [0, 1, 4].includes(i)));
    const ids = [undefined, 'spiffe://cluster.local/ns/from-mix-ns/sa/x', 'spiffe://cluster.local/ns/when-l4-ns/sa/y', 'spiffe://cluster.local/ns/when-l4-l7-ns/sa/z'];
    const ps = ['from-mix-principal', 'to-mix-principal'];
    const decisions = new Set<boolean>();
    for (const identity of [...ids, ...ps.map((p) => `spiffe://${p}`)]) {
      for (const src of ['10.10.10.10', '20.20.20.20', '10.0.0.1']) {
        for (const port of [80, 8080]) {
          const c = { ...(identity ? { identity } : {}), src, dst: '10.0.0.9', port };
          expect(ztunnelMatches(ours, c), JSON.stringify(c)).toBe(ztunnelMatches(istiod, c));
          decisions.add(ztunnelMatches(ours, c));
        }
      }
    }
    // Both outcomes occur, so the comparison says something.
    expect(decisions).toEqual(new Set([true, false]));
    expect(wireAuthorization(ours)).toEqual(ours);
  });
});

describe('selects and selector policies', () => {
  it.each<[string, AuthorizationPolicySpec, Record<string, string> | undefined, boolean]>([
    ['matching labels', { selector: { matchLabels: { app: 'a' } } }, { app: 'a', v: '1' }, true],
    ['other labels', { selector: { matchLabels: { app: 'a' } } }, { app: 'b' }, false],
    ['all of several', { selector: { matchLabels: { app: 'a', v: '2' } } }, { app: 'a', v: '1' }, false],
    ['empty matchLabels', { selector: { matchLabels: {} } }, { app: 'a' }, true],
    ['no selector', {}, { app: 'a' }, false],
    ['unlabelled pod', { selector: { matchLabels: { app: 'a' } } }, undefined, false],
  ])('%s', (_name, spec, labels, expected) => {
    expect(selects(authzPolicy('default', 'p', spec), labels)).toBe(expected);
  });

  it('works on PeerAuthentications too', () => {
    expect(selects(peerAuth('default', 'pa', { selector: { matchLabels: { app: 'a' } } }), { app: 'a' })).toBe(true);
  });

  const policies: AuthorizationPolicy[] = [
    authzPolicy('default', 'b-sel', { selector: { matchLabels: { app: 'a' } } }),
    authzPolicy('default', 'a-sel', { selector: { matchLabels: { app: 'a' } }, action: 'DENY', rules: [{}] }),
    authzPolicy('default', 'ns-wide', {}),
    authzPolicy('default', 'other-app', { selector: { matchLabels: { app: 'z' } } }),
    authzPolicy('default', 'custom', { selector: { matchLabels: { app: 'a' } }, action: 'CUSTOM', provider: { name: 'x' }, rules: [{}] }),
    authzPolicy('istio-system', 'mesh-sel', { selector: { matchLabels: { app: 'a' } } }),
    authzPolicy('istio-system', 'mesh-wide', {}),
    authzPolicy('elsewhere', 'foreign-sel', { selector: { matchLabels: { app: 'a' } } }),
  ];

  it('a workload names the converted selector policies of its namespace and the root namespace, sorted', () => {
    const refs = selectorPolicyRefs(policies, options);
    expect(refs.map((r) => `${r.namespace}/${r.name}`)).toEqual(['default/b-sel', 'default/a-sel', 'default/other-app', 'istio-system/mesh-sel', 'elsewhere/foreign-sel']);
    expect(selectorPoliciesForWorkload(refs, 'default', { app: 'a' }, 'istio-system')).toEqual(['default/a-sel', 'default/b-sel', 'istio-system/mesh-sel']);
    expect(selectorPoliciesForWorkload(refs, 'other', { app: 'a' }, 'istio-system')).toEqual(['istio-system/mesh-sel']);
    expect(selectorPoliciesForWorkload(refs, 'default', {}, 'istio-system')).toEqual([]);
  });
});
