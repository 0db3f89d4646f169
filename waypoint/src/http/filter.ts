// The HTTP filter contract (Envoy's StreamFilter in miniature): what a filter sees of a stream
// (its context: connection, chain, route cache, StreamInfo) and the two hooks it may implement.
import type { HttpFilterChain } from '../config/types.ts';
import type { DownstreamConnection } from '../listener/downstream-connection.ts';
import type { DataPlaneEvent } from '../listener/events.ts';
import type { RouteCache } from '../router/route-cache.ts';
import type { Random } from '../router/weighted-pick.ts';
import type { RequestHead, ResponseHead } from './headers.ts';
import type { LocalReply } from './local-reply.ts';
import type { StreamInfo } from './stream-info.ts';

export interface FilterContext {
  readonly connection: DownstreamConnection;
  readonly chain: HttpFilterChain;
  /** Per-stream scratch space filters share (Envoy's filter state). */
  readonly state: Map<string, unknown>;
  /** The stream's route, resolved once before the filters (Envoy's route cache). */
  readonly route: RouteCache;
  /** The stream's StreamInfo (response flags such as DI go here). */
  readonly info: StreamInfo;
  /** Runs `cb` once when the stream is over (Envoy's onDestroy). */
  onEnd(cb: () => void): void;
}

export type DecodeResult = 'continue' | { readonly localReply: LocalReply };

export interface HttpFilter {
  readonly name: string;
  decodeHeaders?(head: RequestHead, ctx: FilterContext): DecodeResult | Promise<DecodeResult>;
  encodeHeaders?(response: ResponseHead, ctx: FilterContext): void;
}

/** What filter instances share: the random source (tests inject one) and the event sink for counters. */
export interface FilterDeps {
  readonly random: Random;
  onEvent?(e: DataPlaneEvent): void;
}
