// L7 AuthorizationPolicy → Envoy RBAC HTTP filters: which policies attach to which chain, and the
// Envoy JSON of each translation (as istiod writes it for a waypoint), checked after a round trip
// through the RBAC filter's codec.
import { describe, expect, it } from 'vitest';
import { httpConnectionManagerCodec, rbacFilterCodec, toEnvoyJson, unpackAny, type Any } from '../../../lib/proto/index.ts';
import type { AuthorizationPolicy, AuthorizationPolicySpec } from '../model/istio-types.ts';
import { modelOptions } from '../model/options.ts';
import { namespace, service } from '../model/test-fixtures.ts';
import type { WaypointLookup } from '../model/waypoints.ts';
import { buildWaypointResources } from './build.ts';
import { attachesToChain, rbacHttpFilters, translateAuthorizationPolicy, WaypointAuthorization, type ChainTarget } from './rbac.ts';

function ap(namespace: string, name: string, spec: AuthorizationPolicySpec, annotations?: Record<string, string>): AuthorizationPolicy {
  return { metadata: { namespace, name, ...(annotations ? { annotations } : {}) }, spec };
}

const GW = { kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'waypoint' };
const target: ChainTarget = { waypoint: { namespace: 'default', name: 'waypoint' }, service: { name: 'echo', namespace: 'default' } };

/** The filters for `policies` as Envoy JSON (the typed config unpacked). */
function filtersJson(...policies: AuthorizationPolicy[]): unknown[] {
  return rbacHttpFilters(policies.map(translateAuthorizationPolicy)).map((f) => {
    const any = (f.configType as { typedConfig: Any }).typedConfig;
    const r = unpackAny(rbacFilterCodec, any);
    if (!r.ok) throw r.error;
    return { name: f.name, typed_config: toEnvoyJson(rbacFilterCodec, r.value) };
  });
}

/** The single enforced policy of a one-filter translation. */
function onlyPolicy(spec: AuthorizationPolicySpec): Record<string, unknown> {
  const [f] = filtersJson(ap('default', 'p', { targetRefs: [GW], ...spec })) as { typed_config: { rules: { policies: Record<string, unknown> } } }[];
  return f!.typed_config.rules.policies['ns[default]-policy[p]-rule[0]'] as Record<string, unknown>;
}

const ANY_PRINCIPAL = [{ and_ids: { ids: [{ any: true }] } }];
const ANY_PERMISSION = [{ and_rules: { rules: [{ any: true }] } }];
const peer = (m: unknown) => ({ filter_state: { key: 'io.istio.peer_principal', string_match: m } });

describe('attachesToChain', () => {
  it.each<[string, AuthorizationPolicy, boolean]>([
    ['Gateway ref, same namespace', ap('default', 'p', { targetRefs: [GW] }), true],
    ['legacy targetRef', ap('default', 'p', { targetRef: GW }), true],
    ['Gateway ref to another waypoint', ap('default', 'p', { targetRefs: [{ ...GW, name: 'other' }] }), false],
    ['Gateway ref from another namespace', ap('shop', 'p', { targetRefs: [GW] }), false],
    ['Gateway ref naming another namespace', ap('default', 'p', { targetRefs: [{ ...GW, namespace: 'shop' }] }), false],
    ['Gateway ref without the group', ap('default', 'p', { targetRefs: [{ kind: 'Gateway', name: 'waypoint' }] }), false],
    ['Service ref', ap('default', 'p', { targetRefs: [{ kind: 'Service', group: '', name: 'echo' }] }), true],
    ['Service ref, group core', ap('default', 'p', { targetRefs: [{ kind: 'Service', group: 'core', name: 'echo' }] }), true],
    ['Service ref to another Service', ap('default', 'p', { targetRefs: [{ kind: 'Service', name: 'other' }] }), false],
    ['GatewayClass ref from the root namespace', ap('istio-system', 'p', { targetRefs: [{ kind: 'GatewayClass', group: 'gateway.networking.k8s.io', name: 'istio-waypoint' }] }), true],
    ['GatewayClass ref elsewhere', ap('default', 'p', { targetRefs: [{ kind: 'GatewayClass', group: 'gateway.networking.k8s.io', name: 'istio-waypoint' }] }), false],
    ['selector policy', ap('default', 'p', { selector: { matchLabels: { app: 'echo' } } }), false],
    ['namespace-wide policy', ap('default', 'p', { rules: [{}] }), false],
    ['one of several refs', ap('default', 'p', { targetRefs: [{ kind: 'Service', name: 'other' }, GW] }), true],
  ])('%s', (_name, policy, want) => {
    expect(attachesToChain(policy, target, 'istio-system')).toBe(want);
  });

  it('a Service policy reaches only that Service\'s chains', () => {
    const authz = new WaypointAuthorization([ap('default', 'p', { targetRefs: [{ kind: 'Service', name: 'echo' }], rules: [{}] })], 'istio-system');
    expect(authz.forChain(target)).toHaveLength(1);
    expect(authz.forChain({ ...target, service: { name: 'other', namespace: 'default' } })).toEqual([]);
  });
});

describe('rbacHttpFilters: filters and actions', () => {
  it('ALLOW with no rules denies everything (a never-matching policy)', () => {
    expect(filtersJson(ap('default', 'deny-all', { targetRefs: [GW] }))).toEqual([
      {
        name: 'envoy.filters.http.rbac',
        typed_config: {
          rules: {
            policies: { 'ns[default]-policy[deny-all]-rule[0]': { permissions: [{ not_rule: { any: true } }], principals: [{ not_id: { any: true } }] } },
          },
          shadow_rules_stat_prefix: 'istio_dry_run_allow_',
        },
      },
    ]);
  });

  it('an empty rule allows everything', () => {
    expect(onlyPolicy({ rules: [{}] })).toEqual({ permissions: ANY_PERMISSION, principals: ANY_PRINCIPAL });
  });

  it('orders CUSTOM, DENY, ALLOW, one filter each, policies of an action merged', () => {
    const out = filtersJson(
      ap('default', 'b-allow', { targetRefs: [GW], rules: [{}] }),
      ap('default', 'a-allow', { targetRefs: [GW], rules: [{}, {}] }),
      ap('default', 'deny', { targetRefs: [GW], action: 'DENY', rules: [{}] }),
      ap('default', 'ext', { targetRefs: [GW], action: 'CUSTOM', provider: { name: 'opa' }, rules: [{}] }),
    ) as { typed_config: { rules: { action?: string; policies: object } } }[];
    expect(out.map((f) => [f.typed_config.rules.action ?? 'ALLOW', Object.keys(f.typed_config.rules.policies)])).toEqual([
      ['DENY', ['istio-ext-authz-opa-ns[default]-policy[ext]-rule[0]-deny-due-to-bad-CUSTOM-action']],
      ['DENY', ['ns[default]-policy[deny]-rule[0]']],
      ['ALLOW', ['ns[default]-policy[a-allow]-rule[0]', 'ns[default]-policy[a-allow]-rule[1]', 'ns[default]-policy[b-allow]-rule[0]']],
    ]);
  });

  it('dry-run policies become shadow rules; enforced ones of the same action stay rules', () => {
    const out = filtersJson(
      ap('default', 'dry', { targetRefs: [GW], action: 'DENY', rules: [{}] }, { 'istio.io/dry-run': 'true' }),
      ap('default', 'real', { targetRefs: [GW], action: 'DENY', rules: [{}] }),
    );
    expect(out).toEqual([
      {
        name: 'envoy.filters.http.rbac',
        typed_config: {
          rules: { action: 'DENY', policies: { 'ns[default]-policy[real]-rule[0]': { permissions: ANY_PERMISSION, principals: ANY_PRINCIPAL } } },
          shadow_rules: { action: 'DENY', policies: { 'ns[default]-policy[dry]-rule[0]': { permissions: ANY_PERMISSION, principals: ANY_PRINCIPAL } } },
          shadow_rules_stat_prefix: 'istio_dry_run_deny_',
        },
      },
    ]);
  });

  it('a dry-run ALLOW alone has no rules (it must not deny)', () => {
    const [f] = filtersJson(ap('default', 'dry', { targetRefs: [GW], rules: [{}] }, { 'istio.io/dry-run': 'true' })) as { typed_config: Record<string, unknown> }[];
    expect(Object.keys(f!.typed_config).sort()).toEqual(['shadow_rules', 'shadow_rules_stat_prefix']);
  });

  it('AUDIT is refused; a bad dry-run value is enforced with a warning', () => {
    const audit = translateAuthorizationPolicy(ap('default', 'a', { targetRefs: [GW], action: 'AUDIT', rules: [{}] }));
    expect([audit.filter, audit.diagnostics.map((d) => [d.severity, d.reason])]).toEqual(['none', [['refused', 'unsupported-action']]]);
    const bad = translateAuthorizationPolicy(ap('default', 'b', { targetRefs: [GW], rules: [{}] }, { 'istio.io/dry-run': 'maybe' }));
    expect([bad.dryRun, bad.diagnostics.map((d) => d.reason)]).toEqual([false, ['invalid-annotation']]);
  });

  it('no attached policy, no filter', () => {
    expect(rbacHttpFilters([])).toEqual([]);
  });
});

describe('rule translation (Envoy JSON)', () => {
  it.each<[string, AuthorizationPolicySpec['rules'], unknown]>([
    [
      'methods, with notMethods',
      [{ to: [{ operation: { methods: ['GET', 'HEAD'], notMethods: ['POST'] } }] }],
      [
        {
          and_rules: {
            rules: [
              { or_rules: { rules: [{ header: { name: ':method', string_match: { exact: 'GET' } } }, { header: { name: ':method', string_match: { exact: 'HEAD' } } }] } },
              { not_rule: { or_rules: { rules: [{ header: { name: ':method', string_match: { exact: 'POST' } } }] } } },
            ],
          },
        },
      ],
    ],
    [
      'paths: exact, prefix, suffix, presence',
      [{ to: [{ operation: { paths: ['/exact', '/prefix/*', '*/suffix', '*'] } }] }],
      [
        {
          and_rules: {
            rules: [
              {
                or_rules: {
                  rules: [
                    { url_path: { path: { exact: '/exact' } } },
                    { url_path: { path: { prefix: '/prefix/' } } },
                    { url_path: { path: { suffix: '/suffix' } } },
                    { url_path: { path: { safe_regex: { regex: '.+' } } } },
                  ],
                },
              },
            ],
          },
        },
      ],
    ],
    [
      'hosts, case-insensitive :authority',
      [{ to: [{ operation: { hosts: ['echo.com', '*.suffix.com', 'prefix.*', '*'] } }] }],
      [
        {
          and_rules: {
            rules: [
              {
                or_rules: {
                  rules: [
                    { header: { name: ':authority', string_match: { exact: 'echo.com', ignore_case: true } } },
                    { header: { name: ':authority', string_match: { suffix: '.suffix.com', ignore_case: true } } },
                    { header: { name: ':authority', string_match: { prefix: 'prefix.', ignore_case: true } } },
                    { header: { name: ':authority', present_match: true } },
                  ],
                },
              },
            ],
          },
        },
      ],
    ],
    [
      'in istiod\'s order: hosts, methods, paths, ports, then when',
      [{ to: [{ operation: { ports: ['8080'], paths: ['/a'], methods: ['GET'], hosts: ['h'] } }], when: [{ key: 'destination.port', notValues: ['9090'] }] }],
      [
        {
          and_rules: {
            rules: [
              { or_rules: { rules: [{ header: { name: ':authority', string_match: { exact: 'h', ignore_case: true } } }] } },
              { or_rules: { rules: [{ header: { name: ':method', string_match: { exact: 'GET' } } }] } },
              { or_rules: { rules: [{ url_path: { path: { exact: '/a' } } }] } },
              { or_rules: { rules: [{ destination_port: 8080 }] } },
              { not_rule: { or_rules: { rules: [{ destination_port: 9090 }] } } },
            ],
          },
        },
      ],
    ],
  ])('permissions: %s', (_name, rules, want) => {
    expect(onlyPolicy({ rules }).permissions).toEqual(want);
  });

  it.each<[string, AuthorizationPolicySpec['rules'], unknown]>([
    [
      'principals get spiffe:// and match the peer filter state',
      [{ from: [{ source: { principals: ['cluster.local/ns/a/sa/b', 'cluster.local/ns/a/*', '*/sa/b', '*'] } }] }],
      [
        {
          and_ids: {
            ids: [
              {
                or_ids: {
                  ids: [
                    peer({ exact: 'spiffe://cluster.local/ns/a/sa/b' }),
                    peer({ prefix: 'spiffe://cluster.local/ns/a/' }),
                    peer({ safe_regex: { regex: 'spiffe://.*/sa/b' } }),
                    peer({ safe_regex: { regex: '.+' } }),
                  ],
                },
              },
            ],
          },
        },
      ],
    ],
    [
      'namespaces are a regex on the principal; notNamespaces negated',
      [{ from: [{ source: { namespaces: ['foo', 'team-*'], notNamespaces: ['bar'] } }] }],
      [
        {
          and_ids: {
            ids: [
              { or_ids: { ids: [peer({ safe_regex: { regex: '.*/ns/foo/.*' } }), peer({ safe_regex: { regex: '.*/ns/team-.*/.*' } })] } },
              { not_id: { or_ids: { ids: [peer({ safe_regex: { regex: '.*/ns/bar/.*' } })] } } },
            ],
          },
        },
      ],
    ],
    [
      'ipBlocks → direct_remote_ip, remoteIpBlocks → remote_ip (remote first)',
      [{ from: [{ source: { ipBlocks: ['10.0.0.0/8'], remoteIpBlocks: ['1.2.3.4'] } }] }],
      [
        {
          and_ids: {
            ids: [
              { or_ids: { ids: [{ remote_ip: { address_prefix: '1.2.3.4', prefix_len: 32 } }] } },
              { or_ids: { ids: [{ direct_remote_ip: { address_prefix: '10.0.0.0', prefix_len: 8 } }] } },
            ],
          },
        },
      ],
    ],
    [
      'every from is one principal; when principals are AND-ed into each',
      [{ from: [{ source: { namespaces: ['a'] } }, { source: { namespaces: ['b'] } }], when: [{ key: 'request.headers[X-User]', values: ['jason'] }] }],
      [
        { and_ids: { ids: [{ or_ids: { ids: [peer({ safe_regex: { regex: '.*/ns/a/.*' } })] } }, { or_ids: { ids: [{ header: { name: 'X-User', string_match: { exact: 'jason' } } }] } }] } },
        { and_ids: { ids: [{ or_ids: { ids: [peer({ safe_regex: { regex: '.*/ns/b/.*' } })] } }, { or_ids: { ids: [{ header: { name: 'X-User', string_match: { exact: 'jason' } } }] } }] } },
      ],
    ],
    [
      'when: source.principal, source.namespace, source.ip',
      [{ when: [{ key: 'source.principal', values: ['cluster.local/ns/a/sa/b'] }, { key: 'source.namespace', notValues: ['c'] }, { key: 'source.ip', values: ['10.1.0.0/16'] }] }],
      [
        {
          and_ids: {
            ids: [
              { or_ids: { ids: [peer({ exact: 'spiffe://cluster.local/ns/a/sa/b' })] } },
              { not_id: { or_ids: { ids: [peer({ safe_regex: { regex: '.*/ns/c/.*' } })] } } },
              { or_ids: { ids: [{ direct_remote_ip: { address_prefix: '10.1.0.0', prefix_len: 16 } }] } },
            ],
          },
        },
      ],
    ],
    [
      'serviceAccounts default to the policy namespace',
      [{ from: [{ source: { serviceAccounts: ['sleep', 'other/curl'] } }] }],
      [
        {
          and_ids: {
            ids: [
              {
                or_ids: {
                  ids: [peer({ safe_regex: { regex: 'spiffe://.+/ns/default/(.+/|)sa/sleep(/.+)?' } }), peer({ safe_regex: { regex: 'spiffe://.+/ns/other/(.+/|)sa/curl(/.+)?' } })],
                },
              },
            ],
          },
        },
      ],
    ],
  ])('principals: %s', (_name, rules, want) => {
    expect(onlyPolicy({ rules }).principals).toEqual(want);
  });

  it('request.auth.* and requestPrincipals: JWT metadata that is never there, with a diagnostic', () => {
    const t = translateAuthorizationPolicy(ap('default', 'p', { targetRefs: [GW], action: 'DENY', rules: [{ from: [{ source: { notRequestPrincipals: ['*'] } }] }] }));
    expect(t.diagnostics.map((d) => d.reason)).toEqual(['no-request-authentication']);
    const json = toEnvoyJson('envoy.config.rbac.v3.Principal', t.policies[0]![1].principals![0]!);
    const jwt = (claim: string) => ({ metadata: { filter: 'envoy.filters.http.jwt_authn', path: [{ key: 'payload' }, { key: claim }], value: { string_match: { safe_regex: { regex: '.+' } } } } });
    expect(json).toEqual({ and_ids: { ids: [{ not_id: { and_ids: { ids: [jwt('iss'), jwt('sub')] } } }] } });
  });

  it('an invalid value drops an ALLOW rule (allows less) but only the value of a DENY rule (denies more)', () => {
    const allow = translateAuthorizationPolicy(ap('default', 'p', { targetRefs: [GW], rules: [{ to: [{ operation: { ports: ['http'] } }] }, {}] }));
    expect(allow.policies.map(([n]) => n)).toEqual(['ns[default]-policy[p]-rule[1]']);
    expect(allow.diagnostics.map((d) => d.reason)).toEqual(['invalid-rule']);
    const deny = translateAuthorizationPolicy(ap('default', 'p', { targetRefs: [GW], action: 'DENY', rules: [{ to: [{ operation: { ports: ['http', '80'] } }] }] }));
    expect(toEnvoyJson('envoy.config.rbac.v3.Permission', deny.policies[0]![1].permissions![0]!)).toEqual({ and_rules: { rules: [{ or_rules: { rules: [{ destination_port: 80 }] } }] } });
    expect(deny.diagnostics.map((d) => d.reason)).toEqual(['invalid-value']);
  });

  it('an unknown when key makes the rule invalid whatever the action', () => {
    const t = translateAuthorizationPolicy(ap('default', 'p', { targetRefs: [GW], action: 'DENY', rules: [{ when: [{ key: 'request.colour', values: ['red'] }] }] }));
    expect([t.policies, t.diagnostics.map((d) => d.reason)]).toEqual([[], ['invalid-rule']]);
  });
});

describe('buildWaypointResources: RBAC on the service chains', () => {
  const options = modelOptions();
  const lookup: WaypointLookup = (ns, name) => (ns === 'default' && name === 'waypoint' ? {} : undefined);

  function chainFilters(policies: AuthorizationPolicy[]): Record<string, string[]> {
    const r = buildWaypointResources(
      {
        waypoint: { namespace: 'default', name: 'waypoint' },
        pods: [],
        services: [service({ name: 'echo', labels: { 'istio.io/use-waypoint': 'waypoint' } }), service({ name: 'other', clusterIP: '10.96.0.11', labels: { 'istio.io/use-waypoint': 'waypoint' } })],
        namespaces: [namespace('default')],
        waypoints: lookup,
        authorizationPolicies: policies,
      },
      options,
    );
    const l = r.listeners.get('main_internal')!;
    const out: Record<string, string[]> = {};
    for (const c of l.filterChains ?? []) {
      const any = (c.filters![0]!.configType as { typedConfig: Any }).typedConfig;
      const hcm = unpackAny(httpConnectionManagerCodec, any);
      if (!hcm.ok) continue;
      out[c.name!] = hcm.value.httpFilters.map((f) => f.name);
    }
    return out;
  }

  it('puts the RBAC filters first and the router last, only on the targeted Service', () => {
    const out = chainFilters([
      ap('default', 'deny', { targetRefs: [{ kind: 'Service', name: 'echo' }], action: 'DENY', rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }] }),
      ap('default', 'allow', { targetRefs: [GW], rules: [{}] }),
    ]);
    const echo = Object.entries(out).find(([n]) => n.includes('|http|echo.'))![1];
    const other = Object.entries(out).find(([n]) => n.includes('|http|other.'))![1];
    expect(echo.filter((n) => n === 'envoy.filters.http.rbac')).toHaveLength(2);
    expect([echo[0], echo[1], echo.at(-1)]).toEqual(['envoy.filters.http.rbac', 'envoy.filters.http.rbac', 'envoy.filters.http.router']);
    expect(other.filter((n) => n === 'envoy.filters.http.rbac')).toHaveLength(1);
    expect(other.at(-1)).toBe('envoy.filters.http.router');
  });

  it('selector policies stay with ztunnel', () => {
    const out = chainFilters([ap('default', 'sel', { selector: { matchLabels: { app: 'echo' } }, action: 'DENY', rules: [{}] })]);
    for (const names of Object.values(out)) expect(names).not.toContain('envoy.filters.http.rbac');
  });
});
