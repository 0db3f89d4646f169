// Go durations as Istio's components take them in their environment (`SECRET_TTL=24h`,
// `POOL_UNUSED_RELEASE_TIMEOUT=5m`), and plain numbers of seconds.

// U+00B5 (micro sign) is written as an escape: a module's source text stays in V8's heap, and one
// character above ASCII would make the one-file bundles' text two bytes per character.
const DURATION_UNIT_S: Readonly<Record<string, number>> = { ns: 1e-9, us: 1e-6, '\u00b5s': 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
const WHOLE = /^((\d+(\.\d*)?|\.\d+)(ns|us|\u00b5s|ms|s|m|h))+$/;
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|ms|s|m|h)/g;

/** Pure: seconds from a plain number of seconds or a Go duration (`24h`, `1h30m`, `90s`); undefined if neither. */
export function parseDurationSeconds(v: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  if (!WHOLE.test(v)) return undefined;
  let total = 0;
  for (const m of v.matchAll(PART)) total += Number(m[1]) * DURATION_UNIT_S[m[2]!]!;
  return total;
}
