// The fault filter's decision (pure; Envoy's envoy.filters.http.fault as Istio configures it): per
// request, whether to delay (fixed delay, percentage) and whether to abort (HTTP status or gRPC
// status, percentage), each drawn independently with an injectable random source; at most
// `maxActiveFaults` faulted requests at once. And the local reply an abort answers with: gRPC
// requests get HTTP 200 with `grpc-status` (trailers-only), others an HTTP status. Response
// flags: DI (delayed), FI (aborted).
import type { FaultAbort, FaultConfig } from '../config/types.ts';
import { httpToGrpcStatus } from '../http/local-reply.ts';
import type { Random } from '../router/weighted-pick.ts';

export interface FaultDecision {
  /** 0 = no delay. */
  delayMs: number;
  abort?: FaultAbort;
}

/** `perMillion` chance: Envoy draws an integer in [0, 1e6) and compares it with the numerator. */
function hits(perMillion: number, random: Random): boolean {
  if (perMillion <= 0) return false;
  if (perMillion >= 1_000_000) return true;
  return Math.floor(random() * 1_000_000) < perMillion;
}

/**
 * What the fault filter does to one request: `route` is the route's own config (it replaces the
 * filter's `defaults`), `activeFaults` the requests being faulted now. Undefined = no fault.
 */
export function decideFault(route: FaultConfig | undefined, defaults: FaultConfig | undefined, activeFaults: number, random: Random = Math.random): FaultDecision | undefined {
  const cfg = route ?? defaults;
  if (!cfg || (!cfg.delay && !cfg.abort)) return undefined;
  if (cfg.maxActiveFaults !== undefined && activeFaults >= cfg.maxActiveFaults) return undefined;
  const delayMs = cfg.delay && cfg.delay.fixedDelayMs > 0 && hits(cfg.delay.perMillion, random) ? cfg.delay.fixedDelayMs : 0;
  const abort = cfg.abort && hits(cfg.abort.perMillion, random) ? cfg.abort : undefined;
  if (delayMs === 0 && !abort) return undefined;
  return { delayMs, ...(abort ? { abort } : {}) };
}

/** gRPC status → HTTP status (Envoy's Grpc::Utility::grpcToHttpStatus), for aborts of non-gRPC requests. */
export const GRPC_TO_HTTP: Readonly<Record<number, number>> = { 0: 200, 1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409, 11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401 };

export const FAULT_ABORT_BODY = 'fault filter abort';

export interface LocalReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The local reply of an abort: gRPC-shaped for gRPC requests (content-type application/grpc*). */
export function faultAbortReply(abort: FaultAbort, grpcRequest: boolean): LocalReply {
  if (grpcRequest) {
    const grpcStatus = abort.kind === 'grpc' ? abort.status : httpToGrpcStatus(abort.status);
    return { status: 200, headers: { 'content-type': 'application/grpc', 'grpc-status': String(grpcStatus), 'grpc-message': FAULT_ABORT_BODY }, body: '' };
  }
  const status = abort.kind === 'http' ? abort.status : (GRPC_TO_HTTP[abort.status] ?? 500);
  return { status, headers: { 'content-type': 'text/plain' }, body: FAULT_ABORT_BODY };
}

/** Whether a request is gRPC (Envoy: content-type application/grpc, or application/grpc+…). */
export function isGrpcRequest(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const ct = contentType.toLowerCase();
  return ct === 'application/grpc' || ct.startsWith('application/grpc+') || ct.startsWith('application/grpc;');
}
