// Compiling envoy.filters.http.rbac: on an HCM chain (shadow set before enforced, router last),
// name-ordered policies, and the parts the waypoint refuses (NACK) or accepts with a warning.
import { describe, expect, it } from 'vitest';
import {
  httpConnectionManagerCodec,
  listenerCodec,
  packAny,
  rbacFilterCodec,
  routerCodec,
  TrafficDirection,
  type MessageInput,
  type RBAC,
} from '../../../lib/proto/index.ts';
import { compileRbacFilter } from './compile-rbac.ts';
import { compileListener } from './compile-listener.ts';
import { Problems } from './problems.ts';

const ANY_POLICY = { permissions: [{ rule: { $case: 'any' as const, any: true } }], principals: [{ identifier: { $case: 'any' as const, any: true } }] };

function compile(input: MessageInput<RBAC>) {
  const d = rbacFilterCodec.decode(rbacFilterCodec.encode(input));
  if (!d.ok) throw d.error;
  const p = new Problems();
  const out = compileRbacFilter(p, 'envoy.filters.http.rbac', d.value, 'f');
  return { out, errors: p.errors, warnings: p.warnings };
}

describe('compileRbacFilter', () => {
  it('orders policies by name and puts the shadow set first', () => {
    const { out, errors } = compile({
      rules: { action: 1, policies: { 'ns[a]-policy[z]-rule[0]': ANY_POLICY, 'ns[a]-policy[b]-rule[0]': ANY_POLICY } },
      shadowRules: { action: 0, policies: { 'ns[a]-policy[dry]-rule[0]': ANY_POLICY } },
      shadowRulesStatPrefix: 'istio_dry_run_allow_',
    });
    expect(errors).toEqual([]);
    expect(out.map((f) => [f.action, f.shadow, f.statPrefix, f.policies.map((x) => x.name)])).toEqual([
      ['ALLOW', true, 'istio_dry_run_allow_', ['ns[a]-policy[dry]-rule[0]']],
      ['DENY', false, '', ['ns[a]-policy[b]-rule[0]', 'ns[a]-policy[z]-rule[0]']],
    ]);
  });

  it('a filter without rules is a no-op; LOG is ignored with a warning', () => {
    expect(compile({}).out).toEqual([]);
    const log = compile({ rules: { action: 2, policies: { p: ANY_POLICY } } });
    expect([log.out, log.errors, log.warnings.length]).toEqual([[], [], 1]);
  });

  it.each<[string, MessageInput<RBAC>, RegExp]>([
    ['CEL conditions', { rules: { action: 0, policies: { p: { ...ANY_POLICY, condition: { id: 1 } } } } }, /condition: CEL conditions are not supported/],
    ['empty principals', { rules: { action: 0, policies: { p: { permissions: ANY_POLICY.permissions } } } }, /principals: at least one principal is required/],
    ['invalid RE2', { rules: { action: 0, policies: { p: { ...ANY_POLICY, permissions: [{ rule: { $case: 'urlPath', urlPath: { rule: { $case: 'path', path: { matchPattern: { $case: 'safeRegex', safeRegex: { regex: '(?=x)' } } } } } } }] } } } }, /invalid RE2 regex/],
    ['bad CIDR', { rules: { action: 0, policies: { p: { ...ANY_POLICY, principals: [{ identifier: { $case: 'directRemoteIp', directRemoteIp: { addressPrefix: '10.0.0.0', prefixLen: 33 } } }] } } } }, /prefix_len: must be 0–32/],
    ['and_rules without rules', { rules: { action: 0, policies: { p: { ...ANY_POLICY, permissions: [{ rule: { $case: 'andRules', andRules: { rules: [] } } }] } } } }, /and_rules.rules: at least one rule/],
  ])('refuses %s', (_n, input, want) => {
    expect(compile(input).errors.join('\n')).toMatch(want);
  });

  it('warns about filter state keys it never sets', () => {
    const { warnings } = compile({
      rules: { action: 0, policies: { p: { ...ANY_POLICY, principals: [{ identifier: { $case: 'filterState', filterState: { key: 'io.istio.other', matcher: { $case: 'stringMatch', stringMatch: { matchPattern: { $case: 'exact', exact: 'x' } } } } } }] } } },
    });
    expect(warnings.join('\n')).toMatch(/io\.istio\.other/);
  });
});

describe('compileListener with RBAC filters', () => {
  const ADS = { configSourceSpecifier: { $case: 'ads' as const, ads: {} } };
  const rbac = (action: number) => ({ name: 'envoy.filters.http.rbac', configType: { $case: 'typedConfig' as const, typedConfig: packAny(rbacFilterCodec, { rules: { action: action as 0 | 1, policies: { p: ANY_POLICY } } }) } });
  const router = { name: 'envoy.filters.http.router', configType: { $case: 'typedConfig' as const, typedConfig: packAny(routerCodec, {}) } };

  function listener(httpFilters: MessageInput<RBAC>[] | unknown[]) {
    const hcm = packAny(httpConnectionManagerCodec, { statPrefix: 's', routeSpecifier: { $case: 'rds', rds: { routeConfigName: 'r', configSource: ADS } }, httpFilters: httpFilters as never });
    const bytes = listenerCodec.encode({
      name: 'main_internal',
      listenerSpecifier: { $case: 'internalListener', internalListener: {} },
      trafficDirection: TrafficDirection.INBOUND,
      filterChains: [{ name: 'c', filterChainMatch: { destinationPort: 80 }, filters: [{ name: 'envoy.filters.network.http_connection_manager', configType: { $case: 'typedConfig', typedConfig: hcm } }] }],
    });
    const d = listenerCodec.decode(bytes);
    if (!d.ok) throw d.error;
    return compileListener('main_internal', d.value);
  }

  it('keeps DENY, ALLOW, router in order', () => {
    const r = listener([rbac(1), rbac(0), router]);
    if (!r.ok) throw new Error(r.errors.join('; '));
    const chain = r.value.kind === 'main_internal' ? r.value.chains[0] : undefined;
    expect(chain?.kind === 'http' && chain.httpFilters.map((f) => (f.kind === 'rbac' ? `rbac:${f.action}` : f.kind))).toEqual(['rbac:DENY', 'rbac:ALLOW', 'router']);
  });

  it('refuses the listener when a policy cannot be compiled, with the path', () => {
    const bad = { name: 'envoy.filters.http.rbac', configType: { $case: 'typedConfig' as const, typedConfig: packAny(rbacFilterCodec, { rules: { action: 0, policies: { p: { permissions: ANY_POLICY.permissions } } } }) } };
    const r = listener([bad, router]);
    expect(r.ok ? [] : r.errors).toEqual(['main_internal.filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.rules.policies["p"].principals: at least one principal is required']);
  });
});
