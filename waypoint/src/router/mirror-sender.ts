// Request mirroring (Envoy's shadow requests): once the downstream body is complete, a copy of the
// upstream request goes to each mirror cluster that fires (router/mirror.ts decides), with the
// `-shadow` authority; its response is read and dropped, its failures only logged. Bodies beyond
// the buffer limit are not mirrored (no truncated copies).
import type { Logger } from '../../../lib/log/logger.ts';
import type { MirrorPolicy, WaypointConfig } from '../config/types.ts';
import type { HeaderMap } from '../http/headers.ts';
import type { ClusterManager } from '../upstream/cluster-manager.ts';
import type { UpstreamRequest, UpstreamRequestHead } from '../upstream/upstream-request.ts';
import { shadowAuthority } from './mirror.ts';
import type { RequestBody } from './request-body.ts';

export interface MirrorRequest {
  readonly config: WaypointConfig;
  readonly policy: MirrorPolicy;
  /** The request as sent to the primary cluster (after rewrites and header mutations). */
  readonly head: UpstreamRequestHead;
  readonly body: RequestBody;
  /** HTTP/2 when the downstream spoke HTTP/2 (for `downstream` protocol clusters). */
  readonly downstreamH2: boolean;
  /** The route timeout (0 = none): a mirror still pending then is reset. */
  readonly timeoutMs: number;
}

export function sendMirror(clusters: ClusterManager, m: MirrorRequest, log?: Logger): void {
  m.body.whenEnded(() => {
    if (!m.body.replayable) return log?.debug({ cluster: m.policy.cluster }, 'mirror skipped: body beyond the buffer limit');
    const cluster = m.config.clusters.get(m.policy.cluster);
    if (!cluster) return log?.debug({ cluster: m.policy.cluster }, 'mirror skipped: no such cluster');
    const rt = clusters.get(cluster);
    const endpoint = rt.pick();
    if (!endpoint || !rt.breaker.tryStartRequest()) return;
    const release = rt.trackRequest(endpoint);
    const h2 = cluster.upstreamProtocol === 'http2' || (cluster.upstreamProtocol === 'downstream' && m.downstreamH2);
    const headers: HeaderMap = { ...m.head.headers };
    if (!h2) delete headers['te'];
    const head: UpstreamRequestHead = { ...m.head, authority: shadowAuthority(m.head.authority, m.policy), headers };
    let req: UpstreamRequest | undefined;
    let done = false;
    const finish = (err?: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      release();
      rt.breaker.endRequest();
      if (err) log?.debug({ cluster: cluster.name, err: (err as Error)?.message ?? String(err) }, 'mirror request failed');
    };
    const timer = m.timeoutMs > 0 ? setTimeout(() => (req?.abort(), finish(new Error('mirror timeout'))), m.timeoutMs) : undefined;
    timer?.unref();
    rt.pool(endpoint, h2 ? 'http2' : 'http1')
      .open(head)
      .then((r) => {
        req = r;
        if (done) return r.abort();
        for (const c of m.body.buffered) r.write(c);
        r.end(m.body.trailers());
        r.response.then(
          (res) => {
            // Fire and forget: the mirror's answer is read to the end and dropped.
            res.body.once('end', () => finish()).once('close', () => finish()).once('error', finish);
            res.body.resume();
          },
          finish,
        );
      })
      .catch(finish);
  });
}
