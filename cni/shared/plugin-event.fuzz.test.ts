// Fuzzing both ends' validation of the plugin event protocol: the CmdAddEvent the agent receives,
// the answer the plugin receives, and the failure text of a non-200 answer. Arbitrary JSON values
// and real events with fields replaced: a value, or a path-prefixed list of errors, never a throw;
// what is accepted has every required field as a non-empty string.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzBudget, fuzzParams, textInput } from '../../lib/fuzz/fuzz.ts';
import { failureText, validateCmdAddAnswer, validateCmdAddEvent, type CmdAddEvent } from './plugin-event.ts';
import { CMD_ADD_EVENT } from './test-fixtures.ts';

const budget = fuzzBudget();

const event: CmdAddEvent = CMD_ADD_EVENT;
const KEYS = Object.keys(event) as (keyof CmdAddEvent)[];

/** A real event with some fields replaced by any JSON value or removed. */
const nearEvent = fc
  .array(fc.tuple(fc.constantFrom(...KEYS), fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined })), { minLength: 1, maxLength: 3 })
  .map((changes) => {
    const o: Record<string, unknown> = { ...event };
    for (const [k, v] of changes) {
      if (v === undefined) delete o[k];
      else o[k] = v;
    }
    return o;
  });

describe('plugin event validation under fuzzing', () => {
  it('validates or refuses every event with path-prefixed errors', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue({ maxDepth: 3 }), nearEvent), (v) => {
        const r = validateCmdAddEvent(v);
        if (!r.ok) {
          expect(r.errors.length).toBeGreaterThan(0);
          for (const e of r.errors) expect(e).toMatch(/^event(\.|:)/);
          return;
        }
        for (const k of ['containerId', 'netns', 'ifName', 'podName', 'podNamespace'] as const) expect(r.value[k]).toMatch(/./);
        for (const ip of r.value.ips) expect(typeof ip === 'string' && ip !== '').toBe(true);
      }),
      fuzzParams(budget),
    );
  }, budget.testTimeoutMs);

  it('validates or refuses every answer, and always finds a failure text', () => {
    const answers = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.record({ captured: fc.oneof(fc.boolean(), fc.jsonValue({ maxDepth: 1 })), reason: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }),
    );
    fc.assert(
      fc.property(answers, textInput(['{"error":"capturing app/web-0 failed: netns gone"}', 'Bad Gateway'], 2000), (v, body) => {
        const r = validateCmdAddAnswer(v);
        if (r.ok) expect(typeof r.value.captured).toBe('boolean');
        else for (const e of r.errors) expect(e).toMatch(/^answer(\.|:)/);
        const text = failureText(body);
        expect(text.length).toBeGreaterThan(0);
        // A raw (non-JSON) body is bounded in what reaches the plugin's error message.
        if (!body.trimStart().startsWith('{')) expect(text.length).toBeLessThanOrEqual(501);
      }),
      fuzzParams(budget),
    );
  }, budget.testTimeoutMs);
});
