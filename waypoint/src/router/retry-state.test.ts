import { describe, expect, it } from 'vitest';
import type { RetryPolicy } from '../config/types.ts';
import { backoffMs, decideRetry, isRetriable, type AttemptOutcome } from './retry-state.ts';

const policy = (retryOn: string[], over: Partial<RetryPolicy> = {}): RetryPolicy => ({ retryOn, numRetries: 2, perTryTimeoutMs: 0, retriableStatusCodes: [], backoffBaseMs: 25, ...over });
const resp = (status: number, grpcStatus?: number): AttemptOutcome => ({ kind: 'response', status, ...(grpcStatus !== undefined ? { grpcStatus } : {}) });
const reset = (requestSent: boolean, refusedStream = false): AttemptOutcome => ({ kind: 'reset', requestSent, refusedStream });

describe('isRetriable', () => {
  it.each([
    [['reset-before-request'], { kind: 'connect-failure' }, true],
    [['reset-before-request'], reset(false), true],
    [['reset-before-request'], reset(true), false],
    [['reset-before-request'], resp(503), false],
    [['connect-failure'], { kind: 'connect-failure' }, true],
    [['connect-failure'], reset(false), false],
    [['5xx'], resp(500), true],
    [['5xx'], resp(404), false],
    [['5xx'], reset(true), true],
    [['5xx'], { kind: 'per-try-timeout' }, true],
    [['gateway-error'], resp(502), true],
    [['gateway-error'], resp(500), false],
    [['gateway-error'], { kind: 'per-try-timeout' }, true],
    [['reset'], reset(true), true],
    [['reset'], resp(503), false],
    [['refused-stream'], reset(true, true), true],
    [['refused-stream'], reset(true), false],
    [['retriable-status-codes'], resp(409), true],
    [['unavailable'], resp(200, 14), true],
    [['cancelled'], resp(200, 14), false],
    [['5xx', 'gateway-error', 'reset'], { kind: 'overflow' }, false],
  ] as [string[], AttemptOutcome, boolean][])('%j / %j → %s', (on, outcome, want) => {
    expect(isRetriable(policy(on, { retriableStatusCodes: [409] }), outcome)).toBe(want);
  });
});

describe('decideRetry', () => {
  const ctx = { retriesDone: 0, bodyReplayable: true, retryBudgetAvailable: true };
  it('retries within numRetries with a jittered back-off', () => {
    expect(decideRetry(policy(['5xx']), resp(503), ctx, () => 0.5)).toEqual({ kind: 'retry', backoffMs: 12 });
    expect(decideRetry(policy(['5xx']), resp(503), { ...ctx, retriesDone: 1 }, () => 0.5)).toEqual({ kind: 'retry', backoffMs: 37 });
  });
  it('stops: exhausted, budget, body not replayable, no policy, not retriable', () => {
    expect(decideRetry(policy(['5xx']), resp(503), { ...ctx, retriesDone: 2 })).toEqual({ kind: 'done', exhausted: true });
    expect(decideRetry(policy(['5xx']), resp(503), { ...ctx, retryBudgetAvailable: false })).toEqual({ kind: 'done', exhausted: true });
    expect(decideRetry(policy(['5xx']), resp(503), { ...ctx, bodyReplayable: false })).toEqual({ kind: 'done', exhausted: false });
    expect(decideRetry(undefined, resp(503), ctx)).toEqual({ kind: 'done', exhausted: false });
    expect(decideRetry(policy(['5xx']), resp(200), ctx)).toEqual({ kind: 'done', exhausted: false });
  });
});

describe('backoffMs', () => {
  it.each([
    [1, 0.999, 24],
    [2, 0.999, 74],
    [3, 0.999, 174],
    [10, 0.999, 249], // capped at 10 × base
    [1, 0, 0],
  ])('retry %s, random %s → %s ms', (n, r, want) => expect(backoffMs(25, n, () => r)).toBe(want));
  it('base 0 means the 25 ms default', () => expect(backoffMs(0, 1, () => 0.999)).toBe(24));
});
