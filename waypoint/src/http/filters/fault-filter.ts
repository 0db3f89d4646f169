// The `envoy.filters.http.fault` filter on the stream: the matched route's fault config (or the
// filter's defaults) decided by filters/fault.ts, then the delay (DI) and the abort (FI) as a local
// reply, gRPC-shaped for gRPC requests. Active faults are counted for max_active_faults.
import type { FaultAbort, FaultFilterConfig } from '../../config/types.ts';
import { decideFault, FAULT_ABORT_BODY, GRPC_TO_HTTP, isGrpcRequest } from '../../filters/fault.ts';
import type { DecodeResult, FilterDeps, HttpFilter } from '../filter.ts';
import { headerValue } from '../headers.ts';
import { httpToGrpcStatus, type LocalReply } from '../local-reply.ts';

/** The local reply of an abort; renderLocalReply shapes it for gRPC (200, grpc-status in trailers). */
export function faultAbortLocalReply(abort: FaultAbort, grpcRequest: boolean): LocalReply {
  const status = abort.kind === 'http' ? abort.status : (GRPC_TO_HTTP[abort.status] ?? 500);
  const grpcStatus = abort.kind === 'grpc' ? abort.status : httpToGrpcStatus(abort.status);
  return { status, body: FAULT_ABORT_BODY, flags: ['FI'], details: 'fault_filter_abort', ...(grpcRequest ? { grpcStatus } : {}) };
}

export function faultFilter(config: FaultFilterConfig, deps: FilterDeps): HttpFilter {
  let active = 0;
  return {
    name: config.name,
    async decodeHeaders(head, ctx): Promise<DecodeResult> {
      const decision = decideFault(ctx.route.selection?.route.fault, config.defaults, active, deps.random);
      if (!decision) return 'continue';
      active++;
      ctx.onEnd(() => active--);
      if (decision.delayMs > 0) {
        ctx.info.addFlag('DI');
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, decision.delayMs);
          // A client that leaves during the delay ends the wait (the HCM then drops the stream).
          ctx.onEnd(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      if (!decision.abort) return 'continue';
      return { localReply: faultAbortLocalReply(decision.abort, isGrpcRequest(headerValue(head.headers, 'content-type'))) };
    },
  };
}
