// Envoy's StringMatcher and HeaderMatcher → the waypoint's StringMatch, shared by routes, CORS
// origins and RBAC (regexes checked as RE2, as Envoy's safe_regex).
import type { HeaderMatcher, StringMatcher } from '../../../lib/proto/index.ts';
import type { StringMatch } from '../config/types.ts';
import { join, type Problems } from './problems.ts';

export function compileStringMatch(p: Problems, m: StringMatcher, path: string): StringMatch {
  const mp = m.matchPattern;
  const ic = m.ignoreCase ? { ignoreCase: true } : {};
  switch (mp?.$case) {
    case 'exact':
      return { kind: 'exact', value: mp.exact, ...ic };
    case 'prefix':
      return { kind: 'prefix', value: p.required(mp.prefix, join(path, 'prefix')), ...ic };
    case 'suffix':
      return { kind: 'suffix', value: p.required(mp.suffix, join(path, 'suffix')), ...ic };
    case 'contains':
      return { kind: 'contains', value: p.required(mp.contains, join(path, 'contains')), ...ic };
    case 'safeRegex':
      return { kind: 'regex', value: p.regex(mp.safeRegex.regex, join(path, 'safe_regex.regex')) };
    case 'custom':
      p.fail(join(path, 'custom'), 'not supported');
      return { kind: 'present' };
    case undefined:
      p.fail(path, 'a match pattern is required');
      return { kind: 'present' };
  }
}

export interface CompiledHeaderMatcher {
  /** Lower case, as received. */
  readonly name: string;
  readonly match: StringMatch;
  readonly invert: boolean;
  readonly treatMissingAsEmpty: boolean;
}

/**
 * An Envoy HeaderMatcher. `requireValues`: an empty prefix/suffix/contains value is refused (RBAC
 * validates them; route matchers take them as they come).
 */
export function compileHeaderMatcher(p: Problems, h: HeaderMatcher, path: string, opts: { requireValues: boolean }): CompiledHeaderMatcher {
  const name = p.required(h.name, join(path, 'name')).toLowerCase();
  const value = (v: string, field: string): string => (opts.requireValues ? p.required(v, join(path, field)) : v);
  let invert = h.invertMatch;
  let match: StringMatch;
  const s = h.headerMatchSpecifier;
  switch (s?.$case) {
    case undefined:
      // No specifier: the header must be present.
      match = { kind: 'present' };
      break;
    case 'presentMatch':
      match = { kind: 'present' };
      // present_match false is "absent", which is an inverted presence in Envoy's absent-header rule.
      if (!s.presentMatch) invert = !invert;
      break;
    case 'exactMatch':
      match = { kind: 'exact', value: s.exactMatch };
      break;
    case 'prefixMatch':
      match = { kind: 'prefix', value: value(s.prefixMatch, 'prefix_match') };
      break;
    case 'suffixMatch':
      match = { kind: 'suffix', value: value(s.suffixMatch, 'suffix_match') };
      break;
    case 'containsMatch':
      match = { kind: 'contains', value: value(s.containsMatch, 'contains_match') };
      break;
    case 'safeRegexMatch':
      match = { kind: 'regex', value: p.regex(s.safeRegexMatch.regex, join(path, 'safe_regex_match.regex')) };
      break;
    case 'stringMatch':
      match = compileStringMatch(p, s.stringMatch, join(path, 'string_match'));
      break;
    case 'rangeMatch':
      p.fail(join(path, 'range_match'), 'not supported');
      match = { kind: 'present' };
      break;
  }
  return { name, match, invert, treatMissingAsEmpty: h.treatMissingHeaderAsEmpty };
}
