// Positive evidence that ztunnel refused a connection: the access-log line of that connection with
// its `error`, and the destination's `istio_tcp_connections_closed_total{response_flags}` moving by
// exactly one. A reply that is "not the payload" proves nothing (any breakage gives one).
import { connectTcp } from '../../lib/netns/index.ts';
import { readAll } from '../../lib/hbone/test-fixtures.ts';
import { pollUntil } from '../lab/poll.ts';

/** The value of the first sample of `metric` whose labels include all of `labels` (0 when none). */
export function sample(text: string, metric: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

/** The sum of every sample of `metric` whose labels include all of `labels`. */
export function sum(text: string, metric: string, labels: Record<string, string>): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** Like netns-harness `talk`, plus the client's own address, which names the connection in the logs. */
export async function talkTraced(fromNs: string, host: string, port: number, payload: string): Promise<{ reply: string; local: string }> {
  const c = connectTcp({ netns: `/run/netns/${fromNs}`, host, port, allowHalfOpen: true });
  // Read once connect(2) has run (Node issues it on the next tick): the ephemeral port is bound then.
  // A refusal that lands before the loop sees the connect complete surfaces as a failed connect
  // (ECONNRESET, no 'connect' event), so the 'connect' event alone would miss exactly those.
  const name = (): string => (c.localPort ? `${c.localAddress ?? ''}:${c.localPort}` : '');
  let local = '';
  process.nextTick(() => (local ||= name()));
  c.once('connect', () => (local ||= name()));
  c.end(payload);
  try {
    return { reply: (await readAll(c)).toString(), local };
  } catch (err) {
    return { reply: `error:${(err as { code?: string }).code ?? (err as Error).message}`, local };
  }
}

export interface ZtunnelView {
  metrics(node: string): Promise<string>;
  logLines(node: string): Record<string, unknown>[];
}

export interface Refusal {
  /** The node whose ztunnel serves the destination pod (it decides L4 policy). */
  node: string;
  /** Destination pod IP and port, as the inbound access line's `dst.addr` shows them. */
  dst: { ip: string; port: number };
  /** What the inbound access line's `error` must say. */
  error: RegExp;
  /** The `response_flags` the destination counts the connection under (DENY for a policy). */
  flag: string;
  /** Extra labels the counted sample must carry (e.g. source_principal). */
  labels?: Record<string, string>;
  /** Extra fields the inbound access line must carry (e.g. 'src.identity'). */
  line?: Record<string, string>;
  /** When the source is outside the mesh, its address is kept: the line's `src.addr` must be it. */
  exactSrc?: boolean;
  /** The source node's ztunnel (mesh clients): its outbound line for this very connection must carry an error. */
  sourceNode?: string;
}

const isAccess = (l: Record<string, unknown>) => l.scope === 'access' && l.msg === 'connection complete';

/**
 * Runs `connect` (one connection that must be refused) and returns once the destination ztunnel has
 * logged it with the expected error and counted it under `flag`; throws (with what was seen) otherwise.
 */
export async function expectRefused(view: ZtunnelView, r: Refusal, connect: () => Promise<{ reply: string; local: string }>): Promise<Record<string, unknown>> {
  const counted = { reporter: 'destination', response_flags: r.flag, ...(r.labels ?? {}) };
  const before = sum(await view.metrics(r.node), 'istio_tcp_connections_closed_total', counted);
  const seenBefore = view.logLines(r.node).filter(isAccess).length;
  const sourceBefore = r.sourceNode ? view.logLines(r.sourceNode).filter(isAccess).length : 0;
  const { local } = await connect();
  const dstAddr = `${r.dst.ip}:${r.dst.port}`;
  const matches = (l: Record<string, unknown>) =>
    isAccess(l) && l.direction === 'inbound' && l['dst.addr'] === dstAddr && typeof l.error === 'string' && r.error.test(l.error)
    && Object.entries(r.line ?? {}).every(([k, v]) => l[k] === v)
    && (!r.exactSrc || l['src.addr'] === local);
  const line = await pollUntil(`the inbound access line of the refused connection ${local} → ${dstAddr} on ${r.node}`, () =>
    view.logLines(r.node).filter(isAccess).slice(seenBefore).find(matches), { timeoutMs: 10_000 }).catch((err: Error) => {
    const recent = view.logLines(r.node).filter(isAccess).slice(seenBefore).slice(-5).map((l) => JSON.stringify(l));
    throw new Error(`${err.message}; access lines since: ${recent.join('\n') || 'none'}`);
  });
  await pollUntil(`istio_tcp_connections_closed_total{${JSON.stringify(counted)}} to move by one on ${r.node}`, async () =>
    sum(await view.metrics(r.node), 'istio_tcp_connections_closed_total', counted) - before === 1, { timeoutMs: 10_000 });
  if (r.sourceNode) {
    // The client's side of the same connection: a new outbound line for this HBONE target, with an
    // error (and the client's own address when the client saw its connect complete).
    const src = r.sourceNode;
    await pollUntil(`the outbound access line of ${local || 'the client'} → ${dstAddr} with an error on ${src}`, () =>
      view.logLines(src).filter(isAccess).slice(sourceBefore).find((l) => l.direction === 'outbound' && l['dst.hbone_addr'] === dstAddr
        && (local === '' || l['src.addr'] === local) && typeof l.error === 'string' && l.error !== ''), { timeoutMs: 10_000 });
  }
  return line;
}
