// Durations as the traffic objects write them: protobuf JSON (`1.5s`, `0.250s`) for Istio's CRDs and
// Gateway API's `1h30m`, `500ms`; both are sequences of <number><unit>. Unparseable → undefined, and
// the caller reports it.
const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, '\u00b5s': 0.001, ns: 0.000001 };

/** Milliseconds (integer, rounded down), or undefined when `text` is not a duration. */
export function parseDurationMs(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const s = text.trim();
  if (s === '') return undefined;
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s|us|\u00b5s|ns)/y;
  let total = 0;
  let at = 0;
  while (at < s.length) {
    re.lastIndex = at;
    const m = re.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    at = re.lastIndex;
  }
  return Math.floor(total);
}

/** google.protobuf.Duration of `ms`. */
export function durationOf(ms: number): { seconds: number; nanos: number } {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}
