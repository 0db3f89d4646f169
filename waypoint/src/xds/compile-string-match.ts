// Envoy's StringMatcher → the waypoint's StringMatch, shared by routes, CORS origins and RBAC
// (regexes checked as RE2, as Envoy's safe_regex).
import type { StringMatcher } from '../../../lib/proto/index.ts';
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
