// Envoy `envoy.filters.http.rbac` (RBAC v3) → the waypoint's RbacFilterConfig (config/types.ts):
// rules and shadow_rules, each a set of named policies of permissions and principals, compiled
// into plain trees that waypoint/src/filters/rbac.ts evaluates. What the waypoint cannot evaluate
// faithfully (CEL conditions, the matcher-tree API, extension matchers) refuses the resource: a
// policy missing a criterion would allow or deny requests its author never meant to.
import type { HeaderMatcher, RBAC, RbacConfig, RbacPermission, RbacPolicy, RbacPrincipal, StringMatcher } from '../../../lib/proto/index.ts';
import type { MetadataMatcher } from '../../../lib/proto/gen/envoy/type/matcher/v3/metadata.ts';
import type { RbacFilterConfig, RbacHeaderMatch, RbacPermission as Permission, RbacPolicy as Policy, RbacPrincipal as Principal, StringMatch } from '../config/types.ts';
import { compileHeaderMatcher, compileStringMatch } from './compile-string-match.ts';
import { join, type Problems } from './problems.ts';

export const RBAC_FILTER = 'envoy.filters.http.rbac';
/** The filter state keys the waypoint knows; the HBONE peer's SPIFFE id is the one Istio's policies match. */
export const KNOWN_FILTER_STATE_KEYS: ReadonlySet<string> = new Set(['io.istio.peer_principal']);

const ACTIONS: Readonly<Record<number, 'ALLOW' | 'DENY' | 'LOG'>> = { 0: 'ALLOW', 1: 'DENY', 2: 'LOG' };

function stringMatch(p: Problems, m: StringMatcher | undefined, path: string): StringMatch {
  if (!m) {
    p.fail(path, 'required');
    return { kind: 'present' };
  }
  return compileStringMatch(p, m, path);
}

/** Envoy's HeaderMatcher; `host` is `:authority` (Envoy stores it there for HTTP/1.1 too). */
function header(p: Problems, h: HeaderMatcher, path: string): RbacHeaderMatch {
  const { name, match, invert, treatMissingAsEmpty } = compileHeaderMatcher(p, h, path, { requireValues: true });
  if (treatMissingAsEmpty) p.fail(join(path, 'treat_missing_header_as_empty'), 'not supported');
  return { name: name === 'host' ? ':authority' : name, match, invert };
}

function metadata(p: Problems, m: MetadataMatcher, path: string): { filter: string; path: string[]; invert: boolean } {
  const filter = p.required(m.filter, join(path, 'filter'));
  const keys = m.path.map((s, i) => (s.segment?.$case === 'key' ? s.segment.key : (p.fail(join(path, `path[${i}]`), 'a key is required'), '')));
  if (keys.length === 0) p.fail(join(path, 'path'), 'required');
  // The waypoint has no JWT or other metadata-producing filter: such a matcher sees no value.
  p.warn(path, `dynamic metadata of ${JSON.stringify(filter)} is never present in the waypoint; this matcher is ${m.invert ? 'always' : 'never'} true`);
  return { filter, path: keys, invert: m.invert };
}

function permission(p: Problems, x: RbacPermission, path: string): Permission {
  const r = x.rule;
  switch (r?.$case) {
    case undefined:
      p.fail(path, 'a rule is required');
      return { kind: 'any' };
    case 'any':
      if (!r.any) p.fail(join(path, 'any'), 'must be true');
      return { kind: 'any' };
    case 'andRules':
    case 'orRules': {
      const set = r.$case === 'andRules' ? r.andRules : r.orRules;
      const field = r.$case === 'andRules' ? 'and_rules' : 'or_rules';
      if (set.rules.length === 0) p.fail(join(path, `${field}.rules`), 'at least one rule is required');
      const rules = set.rules.map((y, i) => permission(p, y, join(path, `${field}.rules[${i}]`)));
      return r.$case === 'andRules' ? { kind: 'and', rules } : { kind: 'or', rules };
    }
    case 'notRule':
      return { kind: 'not', rule: permission(p, r.notRule, join(path, 'not_rule')) };
    case 'header':
      return { kind: 'header', header: header(p, r.header, join(path, 'header')) };
    case 'urlPath': {
      const up = join(path, 'url_path');
      if (r.urlPath.rule?.$case !== 'path') {
        p.fail(up, 'path is required');
        return { kind: 'any' };
      }
      return { kind: 'url-path', match: stringMatch(p, r.urlPath.rule.path, join(up, 'path')) };
    }
    case 'destinationIp':
      return { kind: 'destination-ip', cidr: p.cidr(r.destinationIp, join(path, 'destination_ip')) };
    case 'destinationPort': {
      const port = r.destinationPort;
      if (!Number.isInteger(port) || port < 0 || port > 65535) p.fail(join(path, 'destination_port'), `must be 0–65535, got ${port}`);
      return { kind: 'destination-port', port };
    }
    case 'destinationPortRange': {
      const { start, end } = r.destinationPortRange;
      if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end <= 65536 && start < end)) p.fail(join(path, 'destination_port_range'), `not a port range: [${start}, ${end})`);
      return { kind: 'destination-port-range', start, end };
    }
    case 'requestedServerName':
      return { kind: 'requested-server-name', match: stringMatch(p, r.requestedServerName, join(path, 'requested_server_name')) };
    case 'metadata':
      return { kind: 'metadata', ...metadata(p, r.metadata, join(path, 'metadata')) };
    case 'matcher':
    case 'uriTemplate':
      p.fail(join(path, r.$case === 'matcher' ? 'matcher' : 'uri_template'), 'not supported');
      return { kind: 'any' };
  }
}

function principal(p: Problems, x: RbacPrincipal, path: string): Principal {
  const id = x.identifier;
  switch (id?.$case) {
    case undefined:
      p.fail(path, 'an identifier is required');
      return { kind: 'any' };
    case 'any':
      if (!id.any) p.fail(join(path, 'any'), 'must be true');
      return { kind: 'any' };
    case 'andIds':
    case 'orIds': {
      const set = id.$case === 'andIds' ? id.andIds : id.orIds;
      const field = id.$case === 'andIds' ? 'and_ids' : 'or_ids';
      if (set.ids.length === 0) p.fail(join(path, `${field}.ids`), 'at least one id is required');
      const ids = set.ids.map((y, i) => principal(p, y, join(path, `${field}.ids[${i}]`)));
      return id.$case === 'andIds' ? { kind: 'and', ids } : { kind: 'or', ids };
    }
    case 'notId':
      return { kind: 'not', id: principal(p, id.notId, join(path, 'not_id')) };
    case 'authenticated': {
      const m = id.authenticated.principalName;
      return m ? { kind: 'authenticated', match: compileStringMatch(p, m, join(path, 'authenticated.principal_name')) } : { kind: 'authenticated' };
    }
    case 'sourceIp':
      // Deprecated alias of direct_remote_ip.
      return { kind: 'direct-remote-ip', cidr: p.cidr(id.sourceIp, join(path, 'source_ip')) };
    case 'directRemoteIp':
      return { kind: 'direct-remote-ip', cidr: p.cidr(id.directRemoteIp, join(path, 'direct_remote_ip')) };
    case 'remoteIp':
      return { kind: 'remote-ip', cidr: p.cidr(id.remoteIp, join(path, 'remote_ip')) };
    case 'header':
      return { kind: 'header', header: header(p, id.header, join(path, 'header')) };
    case 'urlPath': {
      const up = join(path, 'url_path');
      if (id.urlPath.rule?.$case !== 'path') {
        p.fail(up, 'path is required');
        return { kind: 'any' };
      }
      return { kind: 'url-path', match: stringMatch(p, id.urlPath.rule.path, join(up, 'path')) };
    }
    case 'metadata':
      return { kind: 'metadata', ...metadata(p, id.metadata, join(path, 'metadata')) };
    case 'filterState': {
      const fp = join(path, 'filter_state');
      const key = p.required(id.filterState.key, join(fp, 'key'));
      if (id.filterState.matcher?.$case !== 'stringMatch') {
        p.fail(fp, 'string_match is required');
        return { kind: 'any' };
      }
      if (key && !KNOWN_FILTER_STATE_KEYS.has(key)) p.warn(join(fp, 'key'), `filter state ${JSON.stringify(key)} is never set in the waypoint; this matcher is never true`);
      return { kind: 'filter-state', key, match: compileStringMatch(p, id.filterState.matcher.stringMatch, join(fp, 'string_match')) };
    }
  }
}

function policy(p: Problems, name: string, x: RbacPolicy, path: string): Policy {
  if (x.condition || x.checkedCondition) p.fail(join(path, x.condition ? 'condition' : 'checked_condition'), 'CEL conditions are not supported');
  if (x.permissions.length === 0) p.fail(join(path, 'permissions'), 'at least one permission is required');
  if (x.principals.length === 0) p.fail(join(path, 'principals'), 'at least one principal is required');
  return {
    name,
    permissions: x.permissions.map((y, i) => permission(p, y, join(path, `permissions[${i}]`))),
    principals: x.principals.map((y, i) => principal(p, y, join(path, `principals[${i}]`))),
  };
}

function ruleSet(p: Problems, rules: RbacConfig, shadow: boolean, statPrefix: string, name: string, path: string): RbacFilterConfig | undefined {
  const action = ACTIONS[rules.action];
  if (action === undefined) {
    p.fail(join(path, 'action'), `unknown action ${rules.action}`);
    return undefined;
  }
  if (rules.auditLoggingOptions) p.warn(join(path, 'audit_logging_options'), 'audit loggers are not supported; ignored');
  // LOG only sets an access-log hint; it never allows or denies, so the waypoint has nothing to do.
  if (action === 'LOG') {
    p.warn(join(path, 'action'), 'LOG rules never change a decision; ignored');
    return undefined;
  }
  // Envoy's engine keeps policies in a map ordered by name: the first match in that order names the decision.
  const names = Object.keys(rules.policies).sort();
  const policies = names.map((n) => policy(p, n, rules.policies[n]!, join(path, `policies[${JSON.stringify(n)}]`)));
  return { kind: 'rbac', name, action, policies, shadow, statPrefix };
}

/** One RBAC HTTP filter's typed config → its rule sets, the shadow set first (it only records). */
export function compileRbacFilter(p: Problems, name: string, rbac: RBAC, path: string): RbacFilterConfig[] {
  if (rbac.matcher) p.fail(join(path, 'matcher'), 'not supported (use rules)');
  if (rbac.shadowMatcher) p.fail(join(path, 'shadow_matcher'), 'not supported (use shadow_rules)');
  const out: RbacFilterConfig[] = [];
  if (rbac.shadowRules) {
    const s = ruleSet(p, rbac.shadowRules, true, rbac.shadowRulesStatPrefix, name, join(path, 'shadow_rules'));
    if (s) out.push(s);
  }
  if (rbac.rules) {
    const r = ruleSet(p, rbac.rules, false, rbac.rulesStatPrefix, name, join(path, 'rules'));
    if (r) out.push(r);
  }
  return out;
}
