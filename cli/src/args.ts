// Command-line parsing with cobra's conventions on top of node:util parseArgs: flags anywhere,
// `--flag=value`, bool flags also as `--flag=true|false`, Go durations, and cobra's error texts.
import { parseArgs } from 'node:util';

/** A user error: printed as `Error: <message>` on stderr, exit code 1. */
export class CliError extends Error {
  readonly code: 'USAGE' | 'FAILED';
  constructor(message: string, code: 'USAGE' | 'FAILED' = 'FAILED') {
    super(message);
    this.name = 'CliError';
    this.code = code;
  }
}

export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  default?: string | boolean;
  multiple?: boolean;
  /** The value's type in `--help` (cobra prints `duration`, `int`); default `string`. */
  metavar?: string;
  help: string;
}
export type FlagSpecs = Record<string, FlagSpec>;

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** Parses `argv` against `specs`; unknown flags and bad values become CliError with cobra's wording. */
export function parseFlags(argv: readonly string[], specs: FlagSpecs): Parsed {
  const args: string[] = [];
  for (const a of argv) {
    // cobra accepts `--bool=true|false`; parseArgs refuses a value on a boolean option.
    const m = /^--([^=]+)=(true|false)$/.exec(a);
    if (m && specs[m[1]!]?.type === 'boolean') {
      if (m[2] === 'true') args.push(`--${m[1]}`);
      else args.push(`--no-${m[1]}`);
      continue;
    }
    args.push(a);
  }
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, s] of Object.entries(specs)) {
    options[name] = { type: s.type, ...(s.short ? { short: s.short } : {}), ...(s.multiple ? { multiple: true } : {}) };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, allowNegative: true, strict: true });
  } catch (err) {
    throw new CliError(cobraMessage(err as Error & { code?: string }), 'USAGE');
  }
  const values: Parsed['values'] = {};
  for (const [name, s] of Object.entries(specs)) values[name] = (parsed.values[name] as Parsed['values'][string]) ?? s.default;
  return { values, positionals: parsed.positionals };
}

function cobraMessage(err: Error & { code?: string }): string {
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const flag = /'(-[^']+)'/.exec(err.message)?.[1] ?? '';
      return flag.startsWith('--') ? `unknown flag: ${flag}` : `unknown shorthand flag: '${flag.slice(1)}' in ${flag}`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const long = /--([^ ']+) <value>/.exec(err.message)?.[1];
      return long && /argument missing/.test(err.message) ? `flag needs an argument: --${long}` : err.message;
    }
    default:
      return err.message;
  }
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration, in milliseconds: `90s`, `1m30s`, `1.5h`, `300ms`, `0`. */
export function parseGoDuration(s: string): number {
  const invalid = () => new CliError(`time: invalid duration "${s}"`, 'USAGE');
  let rest = s;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw invalid();
  let total = 0;
  const re = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (rest.length > 0) {
    const m = re.exec(rest);
    if (!m) throw invalid();
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return sign * total;
}

/** A duration flag value with cobra's error text. */
export function durationFlag(name: string, value: string): number {
  try {
    return parseGoDuration(value);
  } catch (err) {
    throw new CliError(`invalid argument "${value}" for "--${name}" flag: ${(err as Error).message}`, 'USAGE');
  }
}

/** `--help` text for a flag table, aligned like cobra's. */
export function flagHelp(specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const left = `${s.short ? `-${s.short}, ` : '    '}--${name}${s.type === 'string' ? ` ${s.metavar ?? 'string'}` : ''}`;
    const def = s.default !== undefined && s.default !== false && s.default !== '' ? ` (default ${typeof s.default === 'string' ? `"${s.default}"` : s.default})` : '';
    return [left, `${s.help}${def}`] as const;
  });
  const w = Math.max(0, ...rows.map((r) => r[0].length));
  return rows.map(([l, r]) => `  ${l.padEnd(w)}   ${r}`).join('\n');
}
