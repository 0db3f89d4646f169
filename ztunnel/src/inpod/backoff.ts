// ztunnel's reconnect delays to the node agent: Istio's ztunnel goes from 10 ms up to 15 s.
import { Backoff, type BackoffOptions } from '../../../lib/retry/backoff.ts';

export type { BackoffOptions };

export const ZDS_RECONNECT_INITIAL_MS = 10;
export const ZDS_RECONNECT_MAX_MS = 15_000;

export function zdsBackoff(opts: BackoffOptions = {}): Backoff {
  return new Backoff(opts, { initialMs: ZDS_RECONNECT_INITIAL_MS, maxMs: ZDS_RECONNECT_MAX_MS });
}
