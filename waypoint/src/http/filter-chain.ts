// The HTTP filter chain, Envoy's contract in miniature: decodeHeaders runs in order and may stop
// the stream with a local reply; encodeHeaders runs in reverse order on the response. The router
// is the terminal step and not part of this list. A new filter is a file under http/filters (or
// filters/) plus its `kind` in HttpFilterConfig and one line in FILTER_FACTORIES.
import type { HttpFilterChain, HttpFilterConfig } from '../config/types.ts';
import type { DownstreamConnection } from '../listener/downstream-connection.ts';
import type { RequestHead, ResponseHead } from './headers.ts';
import type { LocalReply } from './local-reply.ts';

export interface FilterContext {
  readonly connection: DownstreamConnection;
  readonly chain: HttpFilterChain;
  /** Per-stream scratch space filters share (Envoy's filter state). */
  readonly state: Map<string, unknown>;
}

export type DecodeResult = 'continue' | { readonly localReply: LocalReply };

export interface HttpFilter {
  readonly name: string;
  decodeHeaders?(head: RequestHead, ctx: FilterContext): DecodeResult | Promise<DecodeResult>;
  encodeHeaders?(response: ResponseHead, ctx: FilterContext): void;
}

type NonRouterConfig = Exclude<HttpFilterConfig, { kind: 'router' }>;
type FilterFactories = { readonly [K in NonRouterConfig['kind']]?: (config: Extract<NonRouterConfig, { kind: K }>) => HttpFilter };

/** One entry per filter kind (issue 10 adds fault, rbac, cors, header mutation here). */
const FILTER_FACTORIES: FilterFactories = {};

const built = new WeakMap<HttpFilterChain, readonly HttpFilter[]>();

/** The chain's filters before the router, built once per chain object (a config snapshot). */
export function filtersFor(chain: HttpFilterChain): readonly HttpFilter[] {
  let filters = built.get(chain);
  if (!filters) {
    filters = chain.httpFilters.filter((c) => c.kind !== 'router').map((c) => buildFilter(c as NonRouterConfig));
    built.set(chain, filters);
  }
  return filters;
}

function buildFilter(config: NonRouterConfig): HttpFilter {
  const kind = (config as HttpFilterConfig).kind;
  const factory = (FILTER_FACTORIES as Record<string, ((c: HttpFilterConfig) => HttpFilter) | undefined>)[kind];
  if (factory) return factory(config);
  // A filter the config asks for but this build cannot run (e.g. authorization): fail closed
  // rather than let requests skip it.
  return {
    name: config.name,
    decodeHeaders: () => ({ localReply: { status: 500, body: '', flags: [], details: `filter_not_supported{${kind}}` } }),
  };
}

export async function decodeHeaders(filters: readonly HttpFilter[], head: RequestHead, ctx: FilterContext): Promise<DecodeResult> {
  for (const f of filters) {
    if (!f.decodeHeaders) continue;
    const r = await f.decodeHeaders(head, ctx);
    if (r !== 'continue') return r;
  }
  return 'continue';
}

export function encodeHeaders(filters: readonly HttpFilter[], response: ResponseHead, ctx: FilterContext): void {
  for (let i = filters.length - 1; i >= 0; i--) filters[i]!.encodeHeaders?.(response, ctx);
}
