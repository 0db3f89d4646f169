// The HTTP filter chain, Envoy's contract in miniature: decodeHeaders runs in order and may stop
// the stream with a local reply; encodeHeaders runs in reverse order on the response. The router
// is the terminal step and not part of this list. A new filter is a file under http/filters (its
// decisions in filters/) plus its `kind` in HttpFilterConfig and one line in FILTER_FACTORIES.
import type { HttpFilterChain, HttpFilterConfig } from '../config/types.ts';
import type { DecodeResult, FilterContext, FilterDeps, HttpFilter } from './filter.ts';
import { corsFilter } from './filters/cors-filter.ts';
import { faultFilter } from './filters/fault-filter.ts';
import { rbacFilter } from './filters/rbac-filter.ts';
import type { RequestHead, ResponseHead } from './headers.ts';

export type { DecodeResult, FilterContext, FilterDeps, HttpFilter } from './filter.ts';

type NonRouterConfig = Exclude<HttpFilterConfig, { kind: 'router' }>;
type FilterFactories = { readonly [K in NonRouterConfig['kind']]?: (config: Extract<NonRouterConfig, { kind: K }>, deps: FilterDeps) => HttpFilter };

/** One entry per filter kind. */
const FILTER_FACTORIES: FilterFactories = {
  rbac: rbacFilter,
  fault: faultFilter,
  cors: corsFilter,
};

const DEFAULT_DEPS: FilterDeps = { random: Math.random };
const built = new WeakMap<FilterDeps, WeakMap<HttpFilterChain, readonly HttpFilter[]>>();

/** The chain's filters before the router, built once per chain object (a config snapshot) and deps. */
export function filtersFor(chain: HttpFilterChain, deps: FilterDeps = DEFAULT_DEPS): readonly HttpFilter[] {
  let byChain = built.get(deps);
  if (!byChain) built.set(deps, (byChain = new WeakMap()));
  let filters = byChain.get(chain);
  if (!filters) {
    filters = chain.httpFilters.filter((c) => c.kind !== 'router').map((c) => buildFilter(c as NonRouterConfig, deps));
    byChain.set(chain, filters);
  }
  return filters;
}

function buildFilter(config: NonRouterConfig, deps: FilterDeps): HttpFilter {
  const kind = (config as HttpFilterConfig).kind;
  const factory = (FILTER_FACTORIES as Record<string, ((c: HttpFilterConfig, d: FilterDeps) => HttpFilter) | undefined>)[kind];
  if (factory) return factory(config, deps);
  // A filter the config asks for but this build cannot run: fail closed rather than let
  // requests skip it.
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
