// The router, last step of the HTTP filter chain and the only place that knows clusters: the
// stream's cached route, weighted cluster, rewrites and header mutations, mirrors, circuit
// breakers, load balancing (request hash, previous hosts), the upstream attempt through the
// endpoint's pool, timeouts, retries, outlier results, then the response streamed back.
import type { Logger } from '../../../lib/log/logger.ts';
import type { Cluster, Route, WeightedCluster } from '../config/types.ts';
import type { WaypointConfig } from '../config/types.ts';
import { applyHeaderMutation } from '../filters/header-mutation.ts';
import type { ActiveStream } from '../http/active-stream.ts';
import { headerValue, type HeaderMap } from '../http/headers.ts';
import { localReply, type LocalReply } from '../http/local-reply.ts';
import { hostKey, type ClusterManager, type ClusterRuntime, type UpstreamCodec } from '../upstream/cluster-manager.ts';
import type { UpstreamResult } from '../upstream/outlier-detection.ts';
import { upstreamHost } from '../upstream/upstream-connector.ts';
import { UpstreamError, type UpstreamRequest, type UpstreamRequestHead, type UpstreamResponse } from '../upstream/upstream-request.ts';
import { requestHash } from './hash-policy.ts';
import { mirrorsToSend } from './mirror.ts';
import { sendMirror } from './mirror-sender.ts';
import { redirectLocation, rewritePath } from './path-rewrite.ts';
import { RequestBody } from './request-body.ts';
import { decideRetry, type AttemptOutcome } from './retry-state.ts';
import { routeRequestOf } from './route-cache.ts';
import { parseQuery, type RouteRequest } from './route-table.ts';
import { weightedPick, type Random } from './weighted-pick.ts';

export interface RouterDeps {
  readonly clusters: ClusterManager;
  /** The newest config: routes and clusters follow updates per request (Envoy's RDS/CDS/EDS). */
  config(): WaypointConfig | undefined;
  readonly random?: Random;
  readonly log?: Logger;
}

type AttemptResult =
  | { kind: 'response'; up: UpstreamRequest; res: UpstreamResponse; startedAt: number }
  | { kind: 'failed'; outcome: AttemptOutcome; error?: UpstreamError }
  | { kind: 'global-timeout' }
  | { kind: 'downstream-gone' };

export function routeRequestView(s: ActiveStream): RouteRequest {
  return routeRequestOf(s.head);
}

export class RouterFilter {
  readonly #random: Random;

  private readonly deps: RouterDeps;

  constructor(deps: RouterDeps) {
    this.deps = deps;
    this.#random = deps.random ?? Math.random;
  }

  /** Runs the router for one stream; never throws (failures become local replies). */
  async route(s: ActiveStream): Promise<void> {
    // The route was resolved once for the stream, before the filters (the route cache).
    const { config, selection: selected } = s.filterContext.route;
    const chain = s.chain;
    s.info.destinationService = chain.service;
    if (!selected) return s.sendLocalReply(localReply('route_not_found'));
    const route = selected.route;
    s.info.routeName = route.name;
    const action = route.action;
    if (action.kind === 'direct-response') {
      return s.sendLocalReply({ status: action.status, body: action.body ?? '', flags: [], details: 'direct_response' });
    }
    if (action.kind === 'redirect') {
      const location = redirectLocation(action, route.match.path, s.head);
      return s.sendLocalReply({ status: action.status, body: '', flags: [], details: 'redirect', headers: { location } });
    }
    const wc = weightedPick(action.clusters, this.#random);
    const cluster = wc ? config.clusters.get(wc.name) : undefined;
    if (wc) {
      s.info.upstreamCluster = wc.name;
      s.weightedCluster = wc;
    }
    if (!cluster) {
      const reply = localReply('cluster_not_found');
      return s.sendLocalReply(action.clusterNotFoundStatus ? { ...reply, status: action.clusterNotFoundStatus } : reply);
    }
    s.info.destinationService = cluster.services[0] ?? chain.service;
    const rt = this.deps.clusters.get(cluster);
    if (!rt.breaker.tryStartRequest()) return s.sendLocalReply(localReply('overflow'));
    try {
      await this.#forward(s, route, wc!, cluster, rt, config);
    } finally {
      rt.breaker.endRequest();
    }
  }

  async #forward(s: ActiveStream, route: Route, wc: WeightedCluster, cluster: Cluster, rt: ClusterRuntime, config: WaypointConfig): Promise<void> {
    if (route.action.kind !== 'route') return;
    const action = route.action;
    const ds = s.downstream;
    const body = new RequestBody(ds.body, () => ds.requestTrailers(), (n) => (s.info.bytesReceived += n));
    const head = upstreamHead(s, route, wc);
    if (action.timeoutMs > 0) head.headers['x-envoy-expected-rq-timeout-ms'] = String(action.timeoutMs);
    const codec: UpstreamCodec = cluster.upstreamProtocol === 'http2' || (cluster.upstreamProtocol === 'downstream' && ds.protocol === 'HTTP/2') ? 'http2' : 'http1';
    const up: UpstreamRequestHead = { ...head, headers: codec === 'http1' ? withoutTe(head.headers) : head.headers };
    for (const policy of mirrorsToSend(action.mirrors, this.#random)) {
      sendMirror(this.deps.clusters, { config, policy, head, body, downstreamH2: ds.protocol === 'HTTP/2', timeoutMs: action.timeoutMs }, this.deps.log);
    }
    let hash: bigint | undefined;
    if (rt.hashing && action.hashPolicy?.length) {
      const h = hashFor(s, action.hashPolicy);
      hash = h.hash;
      if (h.setCookie) s.extraResponseHeaders = { 'set-cookie': h.setCookie };
    }
    const previousHosts = action.retry?.retryHostPredicates?.includes('previous_hosts') ? new Set<string>() : undefined;

    // The route timeout starts once the downstream request is complete (Envoy's semantics).
    let globalTimedOut = false;
    let onGlobal: (() => void) | undefined;
    let globalTimer: NodeJS.Timeout | undefined;
    if (action.timeoutMs > 0) {
      body.whenEnded(() => {
        globalTimer = setTimeout(() => {
          globalTimedOut = true;
          onGlobal?.();
        }, action.timeoutMs);
      });
    }
    let downstreamGone = false;
    let onGone: (() => void) | undefined;
    ds.onEnd((how) => {
      if (how === 'aborted') {
        downstreamGone = true;
        onGone?.();
      }
    });

    try {
      let retriesDone = 0;
      for (;;) {
        const endpoint = rt.pick({ ...(hash !== undefined ? { hash } : {}), ...(previousHosts ? { exclude: previousHosts } : {}) });
        if (!endpoint) return s.sendLocalReply(localReply('no_healthy_upstream'));
        previousHosts?.add(hostKey(endpoint));
        s.info.upstreamHost = upstreamHost(endpoint);
        s.info.destinationWorkload = endpoint.workload;
        s.info.destinationPrincipal = endpoint.identity;
        const release = rt.trackRequest(endpoint);
        const retrying = retriesDone > 0;
        const result = await new Promise<AttemptResult>((resolve) => {
          let settled = false;
          let current: UpstreamRequest | undefined;
          const settle = (r: AttemptResult): void => {
            if (settled) return;
            settled = true;
            clearTimeout(perTry);
            onGlobal = undefined;
            onGone = undefined;
            if (r.kind !== 'response') {
              body.detach();
              current?.abort();
            }
            resolve(r);
          };
          const perTryMs = action.retry && action.retry.perTryTimeoutMs > 0 ? action.retry.perTryTimeoutMs : 0;
          const perTry = perTryMs > 0 ? setTimeout(() => settle({ kind: 'failed', outcome: { kind: 'per-try-timeout' } }), perTryMs) : undefined;
          onGlobal = () => settle({ kind: 'global-timeout' });
          onGone = () => settle({ kind: 'downstream-gone' });
          if (globalTimedOut) return onGlobal();
          if (downstreamGone) return onGone();
          const startedAt = performance.now();
          rt.pool(endpoint, codec)
            .open(up)
            .then((req) => {
              current = req;
              if (settled) return req.abort();
              body.attach(req);
              req.response.then(
                (res) => settle({ kind: 'response', up: req, res, startedAt }),
                (err: unknown) => settle({ kind: 'failed', outcome: outcomeOf(err), error: asUpstreamError(err) }),
              );
            })
            .catch((err: unknown) => settle({ kind: 'failed', outcome: outcomeOf(err), error: asUpstreamError(err) }));
        });
        if (retrying) rt.breaker.endRetry();

        if (result.kind === 'downstream-gone') {
          release();
          return;
        }
        if (result.kind === 'global-timeout') {
          release();
          rt.recordResult(endpoint, 'timeout');
          return s.sendLocalReply(localReply('upstream_timeout'));
        }
        const od = outlierResult(result);
        if (od !== undefined) rt.recordResult(endpoint, od);
        const outcome: AttemptOutcome =
          result.kind === 'response' ? { kind: 'response', status: result.res.status, ...grpcStatusOf(result.res.headers) } : result.outcome;
        const decision = decideRetry(
          action.retry,
          outcome,
          { retriesDone, bodyReplayable: body.replayable, retryBudgetAvailable: true },
          this.#random,
        );
        if (decision.kind === 'retry' && rt.breaker.tryStartRetry()) {
          if (result.kind === 'response') result.up.abort();
          release();
          retriesDone++;
          await delay(decision.backoffMs);
          if (downstreamGone) {
            rt.breaker.endRetry();
            return;
          }
          continue;
        }
        // Out of retries, or the max_retries circuit breaker refused one: Envoy's URX either way.
        const exhausted = decision.kind === 'retry' || decision.exhausted;
        if (result.kind === 'failed') {
          release();
          if (result.error?.transportFailure) s.info.upstreamTransportFailureReason = result.error.transportFailure;
          s.sendLocalReply(replyFor(result.outcome, result.error));
          if (exhausted) s.info.addFlag('URX');
          return;
        }
        if (exhausted) s.info.addFlag('URX');
        // A response: it goes downstream, body and trailers streamed.
        try {
          await this.#streamResponse(s, result.up, result.res, result.startedAt, () => globalTimedOut, (cb) => (onGlobal = cb), (cb) => (onGone = cb));
        } finally {
          release();
        }
        return;
      }
    } finally {
      clearTimeout(globalTimer);
    }
  }

  #streamResponse(
    s: ActiveStream,
    up: UpstreamRequest,
    res: UpstreamResponse,
    startedAt: number,
    timedOut: () => boolean,
    onTimeout: (cb: () => void) => void,
    onGone: (cb: () => void) => void,
  ): Promise<void> {
    const serviceTime = Math.round(performance.now() - startedAt);
    s.info.upstreamServiceTimeMs = serviceTime;
    const headers: HeaderMap = { ...res.headers, 'x-envoy-upstream-service-time': String(serviceTime) };
    const src = res.body;
    return new Promise<void>((resolve) => {
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        src.off('data', onData).off('end', onEnd).off('close', onClose);
        resolve();
      };
      const abortBoth = (flag: string): void => {
        if (finished) return;
        s.info.addFlag(flag);
        up.abort();
        s.downstream.reset();
        finish();
      };
      const onData = (chunk: Buffer): void => {
        if (!s.write(chunk)) {
          src.pause();
          s.downstream.onDrain(() => src.resume());
        }
      };
      const onEnd = (): void => {
        s.endResponse(res.trailers());
        finish();
      };
      const onClose = (): void => {
        if (!src.readableEnded) abortBoth('UC');
      };
      if (timedOut()) return abortBoth('UT');
      if (res.endStream) {
        s.sendResponseHeaders(res.status, headers, true);
        return finish();
      }
      onTimeout(() => abortBoth('UT'));
      onGone(() => {
        up.abort();
        finish();
      });
      s.sendResponseHeaders(res.status, headers, false);
      src.on('data', onData).once('end', onEnd).once('close', onClose);
      src.resume();
    });
  }
}

/** The request as it goes upstream: rewrites, host rewrite, then weighted-cluster and route header mutations. */
function upstreamHead(s: ActiveStream, route: Route, wc: WeightedCluster): { method: string; path: string; authority: string; scheme: string; headers: HeaderMap } {
  const h = s.head;
  let path = h.path;
  let authority = h.authority;
  const headers: HeaderMap = { ...h.headers };
  if (route.action.kind === 'route') {
    const a = route.action;
    const rewritten = rewritePath(route.match.path, path, a);
    if (rewritten !== undefined) {
      headers['x-envoy-original-path'] = path;
      s.info.originalPath = path;
      path = rewritten;
    }
    const host = wc.hostRewrite ?? a.hostRewrite;
    if (host) authority = host;
  }
  // Envoy's finalizeRequestHeaders: the weighted cluster's mutation, then the route's.
  applyHeaderMutation(headers, wc.requestHeaders);
  applyHeaderMutation(headers, route.requestHeaders);
  // A mutation of `host` / `:authority` is a host rewrite: the pools write the authority themselves.
  for (const name of ['host', ':authority']) {
    const v = headerValue(headers, name);
    if (v === undefined) continue;
    delete headers[name];
    if (v) authority = v;
  }
  return { method: h.method, path, authority, scheme: 'http', headers };
}

function hashFor(s: ActiveStream, policies: NonNullable<Extract<Route['action'], { kind: 'route' }>['hashPolicy']>): { hash: bigint | undefined; setCookie?: string } {
  const h = s.head;
  let query: ReadonlyMap<string, string> | undefined;
  const r = requestHash(policies, {
    header: (n) => headerValue(h.headers, n),
    cookie: (n) => cookieValue(headerValue(h.headers, 'cookie'), n),
    sourceIp: ipOf(s.filterContext.connection.remoteAddress),
    query: (n) => (query ??= parseQuery(h.path)).get(n),
  });
  const c = r.setCookie;
  if (!c) return { hash: r.hash };
  const cookie = `${c.name}="${c.value}"; Max-Age=${Math.floor(c.ttlMs / 1000)}${c.path ? `; Path=${c.path}` : ''}; HttpOnly`;
  return { hash: r.hash, setCookie: cookie };
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/;\s*|,\s*/)) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return undefined;
}

function ipOf(address: string): string {
  if (address.startsWith('[')) return address.slice(1, address.indexOf(']'));
  const i = address.lastIndexOf(':');
  return i > 0 && address.indexOf(':') === i ? address.slice(0, i) : address;
}

/** What outlier detection counts of an attempt; undefined = nothing (overflow, the client left). */
function outlierResult(r: AttemptResult): UpstreamResult | undefined {
  if (r.kind === 'response') return r.res.status;
  if (r.kind !== 'failed') return undefined;
  switch (r.outcome.kind) {
    case 'connect-failure':
      return 'connect-failure';
    case 'per-try-timeout':
      return 'timeout';
    case 'reset':
      return 'reset';
    default:
      return undefined;
  }
}

function withoutTe(h: HeaderMap): HeaderMap {
  if (!('te' in h)) return h;
  const { te: _te, ...rest } = h;
  return rest;
}

function grpcStatusOf(h: HeaderMap): { grpcStatus?: number } {
  const v = headerValue(h, 'grpc-status');
  return v !== undefined && /^[0-9]+$/.test(v) ? { grpcStatus: Number(v) } : {};
}

function asUpstreamError(err: unknown): UpstreamError {
  return err instanceof UpstreamError ? err : new UpstreamError('connection_termination', (err as Error)?.message ?? String(err), { cause: err, requestSent: true });
}

function outcomeOf(err: unknown): AttemptOutcome {
  const e = asUpstreamError(err);
  switch (e.kind) {
    case 'overflow':
      return { kind: 'overflow' };
    case 'connect_failure':
      return { kind: 'connect-failure' };
    case 'refused_stream':
      return { kind: 'reset', requestSent: false, refusedStream: true };
    default:
      return { kind: 'reset', requestSent: e.requestSent, refusedStream: false };
  }
}

function replyFor(outcome: AttemptOutcome, err: UpstreamError | undefined): LocalReply {
  switch (outcome.kind) {
    case 'overflow':
      return localReply('overflow');
    case 'connect-failure':
      return localReply('connection_failure', err?.transportFailure);
    case 'per-try-timeout':
      return localReply('upstream_timeout');
    case 'response':
      return localReply('connection_termination');
    case 'reset':
      if (err?.kind === 'protocol_error') return { status: 503, body: 'upstream connect error or disconnect/reset before headers. reset reason: protocol error', flags: ['UPE'], details: 'upstream_reset_before_response_started{protocol_error}' };
      return localReply('connection_termination');
  }
}

function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}
