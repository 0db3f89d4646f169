// RE2 regexes for route and header matching: Envoy's `safe_regex` is RE2, so patterns are compiled
// with re2-wasm (no backtracking, same syntax and failures as Envoy) and cached by source text.
import { RE2 } from 're2-wasm';

const cache = new Map<string, RE2 | null>();
const CACHE_LIMIT = 4096;

/** A full-match RE2 for `pattern`, or undefined when RE2 rejects it (the route never matches). */
export function fullMatchRegex(pattern: string): RE2 | undefined {
  let re = cache.get(pattern);
  if (re === undefined) {
    try {
      re = new RE2(`^(?:${pattern})$`, 'u');
    } catch {
      re = null;
    }
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(pattern, re);
  }
  return re ?? undefined;
}

export function regexFullMatch(pattern: string, text: string): boolean {
  return fullMatchRegex(pattern)?.test(text) ?? false;
}

const globalCache = new Map<string, RE2 | null>();

/**
 * Envoy's regex_rewrite: every match of RE2 `pattern` in `text` replaced by `substitution`, where
 * `\0`…`\9` are the match and its groups (RE2::GlobalReplace). Undefined when RE2 rejects the pattern.
 */
export function regexReplaceAll(pattern: string, text: string, substitution: string): string | undefined {
  let re = globalCache.get(pattern);
  if (re === undefined) {
    try {
      re = new RE2(pattern, 'gu');
    } catch {
      re = null;
    }
    if (globalCache.size >= CACHE_LIMIT) globalCache.clear();
    globalCache.set(pattern, re);
  }
  if (!re) return undefined;
  re.lastIndex = 0;
  return re.replace(text, (match: string, ...rest: unknown[]) => {
    const groups = rest.slice(0, -2);
    return substitution.replace(/\\([0-9\\])/g, (_, d: string) => (d === '\\' ? '\\' : d === '0' ? match : String(groups[Number(d) - 1] ?? '')));
  });
}
