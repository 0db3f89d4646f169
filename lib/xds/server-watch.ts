// The pure half of the delta xDS server: for one stream and one type URL, what the proxy subscribed
// to (wildcard and/or names), what it holds (name → version it ACKed or declared when it connected),
// the response awaiting its answer, and the plan of the next response: what changed, what went away.
// Also the validation of a request. No sockets, no timers; lib/xds/server.ts does the I/O.
import type { Any, DeltaDiscoveryRequest, RpcStatus } from '../proto/index.ts';

/** The resource name that means "everything of this type". */
export const WILDCARD = '*';

/** One resource as the store has it. */
export interface XdsStoredResource {
  version: string;
  resource: Any;
  /**
   * Other names the resource answers to; a subscription to an alias covers the resource (Istio's
   * on-demand Address subscriptions name `<network>/<ip>`, not the workload uid).
   */
  aliases?: readonly string[];
}

/** Everything of one type a proxy may see, by resource name. */
export type XdsSnapshot = ReadonlyMap<string, XdsStoredResource>;

/** A response written and not answered yet: what it offered. */
export interface SentResponse {
  nonce: string;
  /** name → version of every resource it carried. */
  versions: Map<string, string>;
  removed: string[];
  sentAt: number;
}

export interface Watch {
  readonly typeUrl: string;
  /** Every resource of the type is covered (subscribed `*`, or the legacy empty first subscription). */
  wildcard: boolean;
  /** The wildcard came from an empty first subscription: the first explicit names end it (xDS spec). */
  legacyWildcard: boolean;
  /** Names (or aliases) subscribed explicitly, `*` excluded. */
  names: Set<string>;
  /** name → version the proxy holds: ACKed, or listed in initial_resource_versions. */
  held: Map<string, string>;
  /** Explicit names we told the proxy do not exist (removed_resources), so we say it once. */
  absent: Set<string>;
  /** name → version offered in a NACKed response: not offered again, only a newer version is. */
  refused: Map<string, string>;
  /** At most one response per type awaits its ACK/NACK; changes meanwhile wait for the answer. */
  inFlight: SentResponse | undefined;
  /** Since when (ms) something may have changed for this watch that no response has covered yet. */
  dirtySince: number | undefined;
  /** No response sent yet: the first one goes out even when empty (the proxy waits for it to sync). */
  initial: boolean;
  lastNonce: string | undefined;
  lastAck: string | undefined;
  lastNack: { nonce: string; message: string } | undefined;
}

/** What the next response of a watch carries, and bookkeeping to do whether or not one is sent. */
export interface ResponsePlan {
  resources: { name: string; stored: XdsStoredResource }[];
  removed: string[];
  /** Held names the proxy no longer subscribes to: dropped without telling it (it dropped them). */
  forget: string[];
  /** Refusals of resources the store no longer has: nothing to remember them for. */
  staleRefusals: string[];
  /** Explicit names that exist again: a later disappearance must be announced again. */
  reappeared: string[];
}

/** How a request's response_nonce relates to the watch. */
export type Answer =
  | { kind: 'ack'; nonce: string; sent: SentResponse }
  | { kind: 'nack'; nonce: string; message: string; refused: string[]; sent: SentResponse }
  /** Not the nonce of the response in flight (old, unknown, or nothing in flight): not an answer. */
  | { kind: 'stale'; nonce: string; expected: string | undefined };

export type RequestCheck = { ok: true } | { ok: false; error: string };

const TYPE_URL_RE = /^[^/\s]+(?:\/[^/\s]+)*\/[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/**
 * Whether a request can be served: the first request of a stream names its node, every request a
 * type URL this server serves, and no subscription names an empty resource.
 */
export function checkRequest(req: DeltaDiscoveryRequest, first: boolean, served: ReadonlySet<string>): RequestCheck {
  if (first && !req.node?.id) return { ok: false, error: 'node.id: required on the first request of a stream' };
  if (!req.typeUrl) return { ok: false, error: 'type_url: missing' };
  if (!served.has(req.typeUrl)) {
    const why = TYPE_URL_RE.test(req.typeUrl) ? 'not served here' : 'malformed';
    return { ok: false, error: `type_url: ${JSON.stringify(req.typeUrl)} is ${why} (served: ${[...served].join(', ') || 'none'})` };
  }
  for (const [field, names] of [['resource_names_subscribe', req.resourceNamesSubscribe], ['resource_names_unsubscribe', req.resourceNamesUnsubscribe]] as const) {
    const i = names.indexOf('');
    if (i >= 0) return { ok: false, error: `${field}[${i}]: empty resource name` };
  }
  return { ok: true };
}

function emptyWatch(typeUrl: string, now: number): Watch {
  return {
    typeUrl,
    wildcard: false,
    legacyWildcard: false,
    names: new Set(),
    held: new Map(),
    absent: new Set(),
    refused: new Map(),
    inFlight: undefined,
    dirtySince: now,
    initial: true,
    lastNonce: undefined,
    lastAck: undefined,
    lastNack: undefined,
  };
}

/**
 * The watch a type's first request on a stream opens. An empty subscription is the legacy
 * wildcard; otherwise the names (and `*`) subscribed, minus those unsubscribed in the same request,
 * so Istio's on-demand "subscribe `*` and unsubscribe `*`" means nothing at all. What the proxy
 * lists in initial_resource_versions counts as held: the first response skips those versions.
 */
export function openWatch(req: DeltaDiscoveryRequest, now: number): Watch {
  const w = emptyWatch(req.typeUrl, now);
  if (req.resourceNamesSubscribe.length === 0) {
    w.wildcard = true;
    w.legacyWildcard = true;
  }
  changeSubscription(w, req.resourceNamesSubscribe, req.resourceNamesUnsubscribe, now);
  // After the subscription, so that subscribing a name does not erase the version held for it.
  for (const [name, version] of Object.entries(req.initialResourceVersions)) w.held.set(name, version);
  return w;
}

/** Forgets what we knew the proxy had under `name`: a newly covered name is (re)sent. */
function forgetName(w: Watch, name: string): void {
  w.held.delete(name);
  w.refused.delete(name);
  w.absent.delete(name);
}

/**
 * Applies a later request's subscribe, then unsubscribe, lists. Returns true when a response may
 * be due (something became covered); unsubscribing never needs one: the proxy drops the names itself.
 */
export function changeSubscription(w: Watch, subscribe: readonly string[], unsubscribe: readonly string[], now: number): boolean {
  let due = false;
  if (w.legacyWildcard && subscribe.length > 0) {
    // Explicit names end the legacy wildcard unless `*` is asked for too.
    w.legacyWildcard = false;
    if (!subscribe.includes(WILDCARD)) w.wildcard = false;
  }
  for (const name of subscribe) {
    if (name === WILDCARD) {
      if (!w.wildcard) due = true;
      w.wildcard = true;
      continue;
    }
    if (w.names.has(name)) continue;
    w.names.add(name);
    // Under the wildcard the proxy already has it; still due, as it may not exist (removal to tell).
    if (!w.wildcard) forgetName(w, name);
    due = true;
  }
  for (const name of unsubscribe) {
    if (name === WILDCARD) {
      if (!w.wildcard) continue;
      w.wildcard = false;
      w.legacyWildcard = false;
      // Names covered by an alias go too; they are re-sent on the next response, which is harmless.
      for (const held of [...w.held.keys()]) if (!w.names.has(held)) forgetName(w, held);
      continue;
    }
    if (!w.names.delete(name)) continue;
    w.absent.delete(name);
    if (!w.wildcard) forgetName(w, name);
  }
  if (due) w.dirtySince ??= now;
  return due;
}

/**
 * The next response for `w` from the store's current `snapshot`: every covered resource whose
 * version differs from the held one (unless that version was refused), a removal for every held name
 * the store no longer has, and one for each explicit name that matches nothing (said once).
 */
export function planResponse(w: Watch, snapshot: XdsSnapshot): ResponsePlan {
  const plan: ResponsePlan = { resources: [], removed: [], forget: [], staleRefusals: [], reappeared: [] };
  const explicit = w.names.size > 0;
  const matched = new Set<string>();
  for (const [name, stored] of snapshot) {
    let covered = w.wildcard;
    if (explicit) {
      if (w.names.has(name)) {
        covered = true;
        matched.add(name);
      }
      for (const alias of stored.aliases ?? []) {
        if (!w.names.has(alias)) continue;
        covered = true;
        matched.add(alias);
      }
    }
    if (!covered) {
      if (w.held.has(name)) plan.forget.push(name);
      continue;
    }
    if (w.held.get(name) === stored.version || w.refused.get(name) === stored.version) continue;
    plan.resources.push({ name, stored });
  }
  for (const name of w.held.keys()) if (!snapshot.has(name)) plan.removed.push(name);
  for (const name of w.names) {
    if (matched.has(name)) {
      if (w.absent.has(name)) plan.reappeared.push(name);
    } else if (!w.held.has(name) && !w.absent.has(name)) {
      plan.removed.push(name);
    }
  }
  for (const name of w.refused.keys()) if (!snapshot.has(name) && !w.held.has(name)) plan.staleRefusals.push(name);
  return plan;
}

/** True when the plan has nothing to tell the proxy. */
export function isEmptyPlan(plan: ResponsePlan): boolean {
  return plan.resources.length === 0 && plan.removed.length === 0;
}

/** The bookkeeping part of a plan, done whether or not a response goes out. */
export function applyBookkeeping(w: Watch, plan: ResponsePlan): void {
  for (const name of plan.forget) forgetName(w, name);
  for (const name of plan.staleRefusals) w.refused.delete(name);
  for (const name of plan.reappeared) w.absent.delete(name);
}

/** Records the response built from `plan` as written with `nonce`: it is now the one in flight. */
export function recordSent(w: Watch, nonce: string, plan: ResponsePlan, now: number): SentResponse {
  const sent: SentResponse = {
    nonce,
    versions: new Map(plan.resources.map((r) => [r.name, r.stored.version])),
    removed: [...plan.removed],
    sentAt: now,
  };
  w.inFlight = sent;
  w.lastNonce = nonce;
  w.initial = false;
  w.dirtySince = undefined;
  return sent;
}

/**
 * The resources a NACK refuses. ztunnel (like our client) writes `name: reason` per rejected
 * resource, joined by `; `, and applies the rest of the response; the names found that way are the
 * refused ones. A message naming none of the response's resources (a handler crash, another
 * client's wording) refuses all of them: when unsure, assume nothing was applied.
 */
export function refusedNames(message: string, offered: Iterable<string>): Set<string> {
  const named = new Set<string>();
  for (const entry of message.split('; ')) {
    const colon = entry.indexOf(': ');
    if (colon > 0) named.add(entry.slice(0, colon));
  }
  const all = [...offered];
  const refused = new Set(all.filter((n) => named.has(n)));
  return refused.size > 0 ? refused : new Set(all);
}

/**
 * Reads a request's response_nonce (and error_detail) against the response in flight. An ACK
 * marks what it offered as held. A NACK marks the versions it refuses (see refusedNames) as refused,
 * leaving what was held for those (the proxy keeps its last good config), and the rest as held.
 * Removals count as done either way: a proxy cannot refuse one. Any other nonce is stale and
 * changes nothing.
 */
export function answer(w: Watch, nonce: string, errorDetail: RpcStatus | undefined): Answer {
  const sent = w.inFlight;
  if (!sent || sent.nonce !== nonce) return { kind: 'stale', nonce, expected: sent?.nonce };
  w.inFlight = undefined;
  for (const name of sent.removed) {
    w.held.delete(name);
    w.refused.delete(name);
    if (w.names.has(name)) w.absent.add(name);
  }
  const message = errorDetail ? errorDetail.message || `code ${errorDetail.code}, no message` : '';
  const refused = errorDetail ? refusedNames(message, sent.versions.keys()) : new Set<string>();
  for (const [name, version] of sent.versions) {
    if (refused.has(name)) {
      w.refused.set(name, version);
      continue;
    }
    w.held.set(name, version);
    w.refused.delete(name);
    w.absent.delete(name);
  }
  if (errorDetail) {
    w.lastNack = { nonce, message };
    return { kind: 'nack', nonce, message, refused: [...refused], sent };
  }
  w.lastAck = nonce;
  return { kind: 'ack', nonce, sent };
}

/** A response is due now: none in flight, and either none sent yet or something may have changed. */
export function responseDue(w: Watch): boolean {
  return w.inFlight === undefined && (w.initial || w.dirtySince !== undefined);
}
