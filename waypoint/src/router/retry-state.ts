// Retry decisions (pure), Envoy's retry_state in miniature: given the route's RetryPolicy and how
// one upstream attempt ended, retry (after a jittered back-off) or stop. The router does the I/O.
import type { RetryPolicy } from '../config/types.ts';
import type { Random } from './weighted-pick.ts';

/** How an upstream attempt ended, as far as retry policy cares. */
export type AttemptOutcome =
  /** TCP/TLS/HBONE connect to the endpoint failed or timed out. */
  | { readonly kind: 'connect-failure' }
  /** The upstream stream was reset or its connection closed before response headers. */
  | { readonly kind: 'reset'; readonly requestSent: boolean; readonly refusedStream: boolean }
  /** The per-try timeout fired before response headers. */
  | { readonly kind: 'per-try-timeout' }
  /** Response headers arrived. */
  | { readonly kind: 'response'; readonly status: number; readonly grpcStatus?: number }
  /** A circuit breaker refused the attempt: never retried (Envoy's UO). */
  | { readonly kind: 'overflow' };

export interface RetryContext {
  /** Retries already done for this request (0 before the first retry). */
  readonly retriesDone: number;
  /** The request body can be sent again (it fitted in the retry buffer). */
  readonly bodyReplayable: boolean;
  /** The cluster's max_retries circuit breaker still has room. */
  readonly retryBudgetAvailable: boolean;
}

export type RetryDecision =
  | { readonly kind: 'retry'; readonly backoffMs: number }
  /** `exhausted`: the outcome was retriable but retries ran out (Envoy's URX flag). */
  | { readonly kind: 'done'; readonly exhausted: boolean };

const GRPC_ON: Record<string, number> = { cancelled: 1, 'deadline-exceeded': 4, 'resource-exhausted': 8, internal: 13, unavailable: 14 };

/** Does `retryOn` cover this outcome? */
export function isRetriable(policy: RetryPolicy, outcome: AttemptOutcome): boolean {
  const on = new Set(policy.retryOn);
  switch (outcome.kind) {
    case 'overflow':
      return false;
    case 'connect-failure':
      return on.has('connect-failure') || on.has('reset-before-request') || on.has('5xx') || on.has('gateway-error') || on.has('reset');
    case 'reset':
      if (outcome.refusedStream && on.has('refused-stream')) return true;
      if (!outcome.requestSent && on.has('reset-before-request')) return true;
      return on.has('reset') || on.has('5xx') || on.has('gateway-error');
    case 'per-try-timeout':
      return on.has('5xx') || on.has('gateway-error') || on.has('reset');
    case 'response': {
      const s = outcome.status;
      if (on.has('5xx') && s >= 500 && s <= 599) return true;
      if (on.has('gateway-error') && (s === 502 || s === 503 || s === 504)) return true;
      if (on.has('retriable-status-codes') && policy.retriableStatusCodes.includes(s)) return true;
      if (outcome.grpcStatus !== undefined) {
        for (const [cond, code] of Object.entries(GRPC_ON)) if (on.has(cond) && outcome.grpcStatus === code) return true;
      }
      return false;
    }
  }
}

export function decideRetry(policy: RetryPolicy | undefined, outcome: AttemptOutcome, ctx: RetryContext, random: Random = Math.random): RetryDecision {
  if (!policy || outcome.kind === 'overflow') return { kind: 'done', exhausted: false };
  if (!isRetriable(policy, outcome)) return { kind: 'done', exhausted: false };
  // A body that was streamed past the retry buffer cannot be sent again.
  if (!ctx.bodyReplayable) return { kind: 'done', exhausted: false };
  if (ctx.retriesDone >= policy.numRetries || !ctx.retryBudgetAvailable) return { kind: 'done', exhausted: true };
  return { kind: 'retry', backoffMs: backoffMs(policy.backoffBaseMs, ctx.retriesDone + 1, random) };
}

/**
 * Envoy's fully jittered exponential back-off: retry n waits a random time in
 * [0, min((2^n - 1) × base, 10 × base)); base defaults to 25 ms.
 */
export function backoffMs(baseMs: number, retryNumber: number, random: Random = Math.random): number {
  const base = baseMs > 0 ? baseMs : 25;
  const upper = Math.min((2 ** Math.min(retryNumber, 30) - 1) * base, 10 * base);
  return Math.floor(random() * upper);
}
