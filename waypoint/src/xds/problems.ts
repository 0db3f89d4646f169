// What a compile step found wrong (or accepted with parts ignored) in one xDS resource, each entry
// prefixed with its path in Envoy's snake_case field names, e.g.
// `main_internal.filter_chains[2].filters[0].typed_config: …`, and the shared readers of Envoy's
// value types (durations, ports, IPs, CIDRs, RE2 regexes).
import { isIP } from 'node:net';
import { RE2 } from 're2-wasm';

export type CompileResult<T> = { ok: true; value: T; warnings: string[] } | { ok: false; errors: string[] };

export class Problems {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];

  fail(path: string, msg: string): void {
    this.errors.push(`${path}: ${msg}`);
  }

  warn(path: string, msg: string): void {
    this.warnings.push(`${path}: ${msg}`);
  }

  get failed(): boolean {
    return this.errors.length > 0;
  }

  result<T>(value: T): CompileResult<T> {
    return this.errors.length ? { ok: false, errors: this.errors } : { ok: true, value, warnings: this.warnings };
  }

  required(v: string, path: string): string {
    if (v === '') this.fail(path, 'required');
    return v;
  }

  /** google.protobuf.Duration as milliseconds; `dflt` when absent. */
  durationMs(d: { seconds: number; nanos: number } | undefined, path: string, dflt: number): number {
    if (!d) return dflt;
    if (!Number.isInteger(d.seconds) || d.seconds < 0 || !Number.isInteger(d.nanos) || d.nanos < 0 || d.nanos > 999_999_999) {
      this.fail(path, `not a non-negative duration: ${d.seconds}s ${d.nanos}ns`);
      return dflt;
    }
    return d.seconds * 1000 + Math.floor(d.nanos / 1e6);
  }

  port(n: number | undefined, path: string): number {
    if (n === undefined || !Number.isInteger(n) || n < 1 || n > 65535) {
      this.fail(path, `not a port: ${n ?? '(missing)'}`);
      return 0;
    }
    return n;
  }

  ip(s: string, path: string): string {
    if (isIP(s) === 0) this.fail(path, `not an IP address: ${JSON.stringify(s)}`);
    return s;
  }

  /** envoy.config.core.v3.CidrRange; prefix_len absent means the whole address. */
  cidr(r: { addressPrefix: string; prefixLen?: number | undefined }, path: string): { address: string; prefixLen: number } {
    const family = isIP(r.addressPrefix);
    if (family === 0) {
      this.fail(`${path}.address_prefix`, `not an IP address: ${JSON.stringify(r.addressPrefix)}`);
      return { address: r.addressPrefix, prefixLen: 0 };
    }
    const max = family === 4 ? 32 : 128;
    const len = r.prefixLen ?? max;
    if (!Number.isInteger(len) || len < 0 || len > max) this.fail(`${path}.prefix_len`, `must be 0–${max} for an IPv${family} prefix, got ${len}`);
    return { address: r.addressPrefix, prefixLen: len };
  }

  /** An RE2 pattern (Envoy's safe_regex engine): refused when RE2 would refuse it (no lookaround, no backreferences). */
  regex(pattern: string, path: string): string {
    try {
      new RE2(pattern, 'u');
    } catch (err) {
      this.fail(path, `invalid RE2 regex: ${(err as Error).message}`);
    }
    return pattern;
  }
}

export const join = (path: string, field: string): string => (path ? `${path}.${field}` : field);
