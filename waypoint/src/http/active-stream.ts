// One stream in flight through the HCM (Envoy's ActiveStream): the downstream stream, its
// StreamInfo and filter context, and the encode path every response takes (upstream or local):
// route and weighted-cluster response header mutations, encode filters in reverse, hop-by-hop
// removal, `server`, drain's `connection: close`, counters.
import type { HttpFilterChain, WeightedCluster } from '../config/types.ts';
import { applyHeaderMutation } from '../filters/header-mutation.ts';
import type { RequestRecordSink } from '../telemetry/request-record.ts';
import type { DownstreamStream } from './downstream-stream.ts';
import { encodeHeaders, type FilterContext, type HttpFilter } from './filter-chain.ts';
import { applyResponseHeaderRules, headerBytes, headerValue, withoutHopByHop, type HeaderMap } from './headers.ts';
import { renderLocalReply, type LocalReply } from './local-reply.ts';
import type { StreamInfo } from './stream-info.ts';

export class ActiveStream {
  #responseComplete = false;
  readonly downstream: DownstreamStream;
  readonly info: StreamInfo;
  readonly chain: HttpFilterChain;
  readonly filters: readonly HttpFilter[];
  readonly filterContext: FilterContext;
  /** The weighted cluster the router picked (its response header mutation applies too). */
  weightedCluster: WeightedCluster | undefined;
  /** Headers the router adds to whatever response goes out (a generated hash-policy cookie). */
  extraResponseHeaders: HeaderMap | undefined;
  private readonly sink: RequestRecordSink;

  constructor(downstream: DownstreamStream, info: StreamInfo, chain: HttpFilterChain, filters: readonly HttpFilter[], filterContext: FilterContext, sink: RequestRecordSink) {
    this.downstream = downstream;
    this.info = info;
    this.chain = chain;
    this.filters = filters;
    this.filterContext = filterContext;
    this.sink = sink;
    downstream.onEnd((how) => {
      if (how === 'aborted' && !this.#responseComplete) info.addFlag('DC');
      info.emit(this.sink);
    });
  }

  get head(): DownstreamStream['head'] {
    return this.downstream.head;
  }

  /** Envoy's sendLocalReply: one path for every response the waypoint makes itself. */
  sendLocalReply(reply: LocalReply): void {
    const ds = this.downstream;
    for (const f of reply.flags) this.info.addFlag(f);
    this.info.responseCodeDetails = reply.details;
    if (ds.responseStarted) {
      // Too late for a reply: the client already has headers; all that is left is a reset.
      ds.reset();
      return;
    }
    const r = renderLocalReply(reply, this.info.grpc);
    if (r.grpcStatus !== undefined) this.info.grpcStatus = r.grpcStatus;
    this.#sendHeaders(r.status, r.headers, r.body.length === 0);
    if (r.body.length > 0) {
      this.info.bytesSent += r.body.length;
      ds.write(r.body);
      this.#end();
    }
    // The request body is not going anywhere now: read and drop it so the stream can complete.
    if (!ds.body.readableEnded) {
      ds.body.removeAllListeners('data');
      ds.body.on('data', (c: Buffer) => (this.info.bytesReceived += c.length));
      ds.body.resume();
    }
  }

  /** Response headers from upstream (already with x-envoy-upstream-service-time). */
  sendResponseHeaders(status: number, upstreamHeaders: HeaderMap, endStream: boolean): void {
    this.info.responseCodeDetails = 'via_upstream';
    const headers = withoutHopByHop(upstreamHeaders, false);
    const gs = headerValue(headers, 'grpc-status');
    if (gs !== undefined && /^[0-9]+$/.test(gs)) this.info.grpcStatus = Number(gs);
    this.#sendHeaders(status, headers, endStream);
  }

  write(chunk: Buffer): boolean {
    this.info.bytesSent += chunk.length;
    return this.downstream.write(chunk);
  }

  endResponse(trailers: HeaderMap | undefined): void {
    const t = trailers ? withoutHopByHop(trailers, false) : undefined;
    const gs = t && headerValue(t, 'grpc-status');
    if (gs !== undefined && /^[0-9]+$/.test(gs)) this.info.grpcStatus = Number(gs);
    this.#end(t);
  }

  #sendHeaders(status: number, headers: HeaderMap, endStream: boolean): void {
    const response = { status, headers };
    // The router's finalizeResponseHeaders, first on the encode path: weighted cluster, then route
    // (local replies of the route included, as Envoy does).
    applyHeaderMutation(headers, this.weightedCluster?.responseHeaders);
    applyHeaderMutation(headers, this.filterContext.route.selection?.route.responseHeaders);
    for (const [k, v] of Object.entries(this.extraResponseHeaders ?? {})) {
      const cur = headers[k];
      headers[k] = cur === undefined ? v : [...(Array.isArray(cur) ? cur : [cur]), ...(Array.isArray(v) ? v : [v])];
    }
    encodeHeaders(this.filters, response, this.filterContext);
    applyResponseHeaderRules(response.headers, this.chain.serverName);
    this.info.responseCode = response.status;
    this.info.responseHeaderBytes = headerBytes(response.headers);
    this.downstream.respond(response.status, response.headers, endStream);
    if (endStream) this.#responseComplete = true;
  }

  #end(trailers?: HeaderMap): void {
    this.#responseComplete = true;
    this.downstream.end(trailers);
  }
}
