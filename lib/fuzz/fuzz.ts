// Test-only support for the *.fuzz.test.ts suites: how long and how often a property runs (short in
// `make test`, longer under `make fuzz` via FUZZ_RUNS / FUZZ_SECONDS, always bounded by both), and
// byte mutators that turn real encoded messages into near-miss inputs (flip, insert, delete,
// truncate, duplicate). Never imported by production code (fast-check is a devDependency).
import fc from 'fast-check';

/** Per property: runs and wall-clock budget. `make test` keeps each fuzz file to a few seconds. */
export interface FuzzBudget {
  numRuns: number;
  timeLimitMs: number;
  /** For vitest's per-test timeout: the budget plus room for setup and the final checks. */
  testTimeoutMs: number;
}

const DEFAULT_RUNS = 300;
const DEFAULT_SECONDS = 1.5;
/** `make fuzz` may run long, but never unbounded. */
const MAX_SECONDS = 3600;

function envNumber(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${JSON.stringify(text)}: must be a positive number`);
  return n;
}

/**
 * The budget of one property. `weight` scales the default run count for expensive properties (a
 * TLS connection per run); FUZZ_RUNS and FUZZ_SECONDS override runs and seconds for every property.
 */
export function fuzzBudget(weight = 1): FuzzBudget {
  const runs = envNumber('FUZZ_RUNS');
  const seconds = Math.min(envNumber('FUZZ_SECONDS') ?? DEFAULT_SECONDS, MAX_SECONDS);
  const timeLimitMs = Math.round(seconds * 1000);
  return {
    numRuns: Math.max(1, Math.round(runs ?? DEFAULT_RUNS * weight)),
    timeLimitMs,
    testTimeoutMs: timeLimitMs + 20_000,
  };
}

/**
 * fast-check parameters for a budget: stop after numRuns or the time limit, whichever comes first
 * (an interrupted run is a pass: the budget, not the input, ended it); async predicates that take
 * longer than `hangMs` fail the property (a hang is a finding). FUZZ_SEED replays a reported failure.
 */
export function fuzzParams<T>(budget: FuzzBudget, opts: { hangMs?: number } = {}): fc.Parameters<T> {
  // Seeds are any 32-bit integer, negative ones included (fast-check prints them that way).
  const seedText = process.env.FUZZ_SEED;
  const seed = seedText ? Number(seedText) : undefined;
  if (seed !== undefined && !Number.isInteger(seed)) throw new Error(`FUZZ_SEED=${JSON.stringify(seedText)}: must be an integer`);
  return {
    numRuns: budget.numRuns,
    plugins: [fc.interruptAfterTimeLimit(budget.timeLimitMs), ...(opts.hangMs ? [fc.timeout(opts.hangMs)] : [])],
    ...(seed !== undefined ? { seed } : {}),
  };
}

export type Mutation =
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'duplicate'; at: number; count: number };

/** Positions are fractions of the input length, so one mutation fits inputs of any size. */
const position = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });

const mutationArb: fc.Arbitrary<{ kind: Mutation['kind']; pos: number; mask: number; bytes: Uint8Array; count: number }> = fc.record({
  kind: fc.constantFrom<Mutation['kind']>('flip', 'set', 'insert', 'delete', 'truncate', 'duplicate'),
  pos: position,
  mask: fc.integer({ min: 1, max: 255 }),
  bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  count: fc.integer({ min: 1, max: 16 }),
});

/** Applies one mutation; out-of-range positions are clamped (an empty input only grows). */
export function mutate(input: Uint8Array, m: { kind: Mutation['kind']; pos: number; mask: number; bytes: Uint8Array; count: number }): Buffer {
  const buf = Buffer.from(input);
  const at = Math.floor(m.pos * buf.length);
  if (buf.length === 0) return m.kind === 'insert' ? Buffer.from(m.bytes) : buf;
  switch (m.kind) {
    case 'flip':
      buf[at] = buf[at]! ^ m.mask;
      return buf;
    case 'set':
      // Boundary values are where length and count fields break.
      buf[at] = [0x00, 0xff, 0x7f, 0x80, 0xc0, 0x3f][m.mask % 6]!;
      return buf;
    case 'insert':
      return Buffer.concat([buf.subarray(0, at), m.bytes, buf.subarray(at)]);
    case 'delete':
      return Buffer.concat([buf.subarray(0, at), buf.subarray(at + m.count)]);
    case 'truncate':
      return buf.subarray(0, at);
    case 'duplicate':
      return Buffer.concat([buf.subarray(0, at + m.count), buf.subarray(at)]);
  }
}

/** Real messages with 1 to `maxMutations` mutations applied in sequence. */
export function mutatedFrom(seeds: readonly Uint8Array[], maxMutations = 4): fc.Arbitrary<Buffer> {
  if (seeds.length === 0) throw new Error('mutatedFrom: no seed messages');
  return fc
    .tuple(fc.constantFrom(...seeds), fc.array(mutationArb, { minLength: 1, maxLength: maxMutations }))
    .map(([seed, ms]) => ms.reduce<Buffer>((b, m) => mutate(b, m), Buffer.from(seed)));
}

/** Arbitrary bytes, mutated real messages and the real messages themselves, in one stream. */
export function wireInput(seeds: readonly Uint8Array[], maxLength = 2048): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength }).map((b) => Buffer.from(b)) },
    { weight: 4, arbitrary: mutatedFrom(seeds) },
    { weight: 1, arbitrary: fc.constantFrom(...seeds).map((b) => Buffer.from(b)) },
  );
}

/** Text inputs the same way: arbitrary strings, and real texts with byte mutations (read as UTF-8). */
export function textInput(seeds: readonly string[], maxLength = 1024): fc.Arbitrary<string> {
  const seedBytes = seeds.map((s) => Buffer.from(s, 'utf8'));
  return fc.oneof(
    { weight: 1, arbitrary: fc.string({ maxLength, unit: 'binary' }) },
    { weight: 4, arbitrary: mutatedFrom(seedBytes).map((b) => b.toString('utf8')) },
    { weight: 1, arbitrary: fc.constantFrom(...seeds) },
  );
}
