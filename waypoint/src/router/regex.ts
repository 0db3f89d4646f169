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
