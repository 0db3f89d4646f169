// The pure half of the delta xDS server: request validation, subscriptions (legacy wildcard, `*`,
// names, aliases, Istio's on-demand "subscribe and unsubscribe `*`"), what the next response carries,
// and how ACK, NACK and stale nonces change what the proxy is known to hold. No sockets.
import { describe, expect, it } from 'vitest';
import type { DeltaDiscoveryRequest, Node } from '../proto/index.ts';
import {
  answer,
  applyBookkeeping,
  changeSubscription,
  checkRequest,
  isEmptyPlan,
  openWatch,
  planResponse,
  recordSent,
  refusedNames,
  responseDue,
  type ResponsePlan,
  type Watch,
  type XdsStoredResource,
} from './server-watch.ts';

const T = 'type.googleapis.com/istio.workload.Address';
const node: Node = { id: 'ztunnel~10.0.0.1~zt.istio-system~istio-system.svc.cluster.local', cluster: '', userAgentName: '', dynamicParameters: {}, extensions: [], clientFeatures: [], listeningAddresses: [] };

function req(fields: Partial<DeltaDiscoveryRequest> = {}): DeltaDiscoveryRequest {
  return { typeUrl: T, resourceNamesSubscribe: [], resourceNamesUnsubscribe: [], resourceLocatorsSubscribe: [], resourceLocatorsUnsubscribe: [], initialResourceVersions: {}, responseNonce: '', ...fields };
}

function res(version: string, aliases?: string[]): XdsStoredResource {
  return { version, resource: { typeUrl: 'type.googleapis.com/test', value: Buffer.from(version) }, ...(aliases ? { aliases } : {}) };
}

function store(entries: Record<string, XdsStoredResource>): Map<string, XdsStoredResource> {
  return new Map(Object.entries(entries));
}

/** Plans, records as sent with `nonce` and returns what went out (names and removals). */
function send(w: Watch, snapshot: Map<string, XdsStoredResource>, nonce: string): { resources: Record<string, string>; removed: string[] } {
  const plan = planResponse(w, snapshot);
  applyBookkeeping(w, plan);
  recordSent(w, nonce, plan, 0);
  return summary(plan);
}

function summary(plan: ResponsePlan): { resources: Record<string, string>; removed: string[] } {
  return { resources: Object.fromEntries(plan.resources.map((r) => [r.name, r.stored.version])), removed: plan.removed };
}

const nack = (message: string) => ({ code: 3, message, details: [] });

describe('checkRequest', () => {
  const served = new Set([T]);
  it.each([
    ['a first request without node', req(), true, /^node\.id: required on the first request/],
    ['a first request with an empty node id', req({ node: { ...node, id: '' } }), true, /^node\.id/],
    ['no type URL', req({ node, typeUrl: '' }), true, /^type_url: missing/],
    ['a type URL that is not one', req({ node, typeUrl: 'Address' }), true, /^type_url: "Address" is malformed \(served: type\.googleapis\.com\/istio\.workload\.Address\)/],
    ['a type URL not served', req({ typeUrl: 'type.googleapis.com/envoy.config.cluster.v3.Cluster' }), false, /is not served here/],
    ['an empty name subscribed', req({ resourceNamesSubscribe: ['a', ''] }), false, /^resource_names_subscribe\[1\]: empty resource name/],
    ['an empty name unsubscribed', req({ resourceNamesUnsubscribe: [''] }), false, /^resource_names_unsubscribe\[0\]/],
  ])('refuses %s', (_name, r, first, error) => {
    const out = checkRequest(r, first, served);
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.error).toMatch(error);
  });

  it('accepts a first request with a node, and later ones without', () => {
    expect(checkRequest(req({ node }), true, served)).toEqual({ ok: true });
    expect(checkRequest(req({ responseNonce: 'n1' }), false, served)).toEqual({ ok: true });
  });
});

describe('openWatch and the first response', () => {
  it('an empty first subscription is the wildcard: sends what differs from initial versions and removes what is gone', () => {
    const w = openWatch(req({ initialResourceVersions: { keep: 'v1', change: 'v1', gone: 'v1' } }), 5);
    expect(w).toMatchObject({ wildcard: true, legacyWildcard: true, initial: true, dirtySince: 5 });
    expect(responseDue(w)).toBe(true);
    const out = send(w, store({ keep: res('v1'), change: res('v2'), added: res('v1') }), 'n1');
    expect(out).toEqual({ resources: { change: 'v2', added: 'v1' }, removed: ['gone'] });
    expect(responseDue(w)).toBe(false);
    expect(w.inFlight?.nonce).toBe('n1');
  });

  it('the first response is due even when it is empty', () => {
    const w = openWatch(req(), 0);
    const plan = planResponse(w, new Map());
    expect(isEmptyPlan(plan)).toBe(true);
    expect(responseDue(w)).toBe(true);
  });

  it("Istio on-demand: subscribing and unsubscribing `*` in one request means nothing", () => {
    const w = openWatch(req({ resourceNamesSubscribe: ['*'], resourceNamesUnsubscribe: ['*'] }), 0);
    expect(w.wildcard).toBe(false);
    expect(w.names.size).toBe(0);
    expect(send(w, store({ a: res('v1') }), 'n1')).toEqual({ resources: {}, removed: [] });
  });

  it('explicit names only cover themselves; a name that matches nothing is announced removed', () => {
    const w = openWatch(req({ resourceNamesSubscribe: ['a', 'missing'] }), 0);
    expect(w.wildcard).toBe(false);
    expect(send(w, store({ a: res('v1'), b: res('v1') }), 'n1')).toEqual({ resources: { a: 'v1' }, removed: ['missing'] });
  });

  it('`*` with names: everything, plus the removal of a name that does not exist', () => {
    const w = openWatch(req({ resourceNamesSubscribe: ['*', 'missing'] }), 0);
    expect(w).toMatchObject({ wildcard: true, legacyWildcard: false });
    expect(send(w, store({ a: res('v1') }), 'n1')).toEqual({ resources: { a: 'v1' }, removed: ['missing'] });
  });

  it('a name subscribed together with its initial version is not re-sent', () => {
    const w = openWatch(req({ resourceNamesSubscribe: ['a'], initialResourceVersions: { a: 'v1' } }), 0);
    expect(send(w, store({ a: res('v1') }), 'n1')).toEqual({ resources: {}, removed: [] });
  });

  it('an alias subscription covers the resource that carries the alias', () => {
    const w = openWatch(req({ resourceNamesSubscribe: ['net/10.0.0.7'] }), 0);
    const out = send(w, store({ 'cluster//Pod/ns/p': res('v1', ['net/10.0.0.7']), other: res('v1', ['net/10.0.0.8']) }), 'n1');
    expect(out).toEqual({ resources: { 'cluster//Pod/ns/p': 'v1' }, removed: [] });
  });
});

describe('answers', () => {
  function synced(snapshot: Map<string, XdsStoredResource>): Watch {
    const w = openWatch(req(), 0);
    send(w, snapshot, 'n1');
    expect(answer(w, 'n1', undefined).kind).toBe('ack');
    return w;
  }

  it('an ACK marks what the response offered as held and removals as gone', () => {
    const w = openWatch(req({ initialResourceVersions: { gone: 'v1' } }), 0);
    send(w, store({ a: res('v1') }), 'n1');
    expect(w.held).toEqual(new Map([['gone', 'v1']]));
    expect(answer(w, 'n1', undefined)).toMatchObject({ kind: 'ack', nonce: 'n1' });
    expect(w.held).toEqual(new Map([['a', 'v1']]));
    expect(w).toMatchObject({ lastAck: 'n1', lastNonce: 'n1', inFlight: undefined });
  });

  it('later responses carry only what changed and what went away', () => {
    const w = synced(store({ a: res('v1'), b: res('v1'), c: res('v1') }));
    expect(send(w, store({ a: res('v1'), b: res('v2'), d: res('v1') }), 'n2')).toEqual({ resources: { b: 'v2', d: 'v1' }, removed: ['c'] });
    answer(w, 'n2', undefined);
    expect(isEmptyPlan(planResponse(w, store({ a: res('v1'), b: res('v2'), d: res('v1') })))).toBe(true);
  });

  it('a NACK refuses the resources it names: their held versions stay, the refused ones are not offered again', () => {
    const w = synced(store({ a: res('v1') }));
    send(w, store({ a: res('v2'), b: res('v1') }), 'n2');
    expect(answer(w, 'n2', nack('a: bad'))).toMatchObject({ kind: 'nack', nonce: 'n2', message: 'a: bad', refused: ['a'] });
    // b was applied (ztunnel applies what it does not name).
    expect(w.held).toEqual(new Map([['a', 'v1'], ['b', 'v1']]));
    expect(w.refused).toEqual(new Map([['a', 'v2']]));
    expect(w.lastNack).toEqual({ nonce: 'n2', message: 'a: bad' });
    // Another resource changes: only it goes out.
    expect(send(w, store({ a: res('v2'), b: res('v1'), c: res('v1') }), 'n3')).toEqual({ resources: { c: 'v1' }, removed: [] });
    answer(w, 'n3', undefined);
    // The refused one changes: the new version goes out, and its ACK clears the refusal.
    expect(send(w, store({ a: res('v3'), b: res('v1'), c: res('v1') }), 'n4')).toEqual({ resources: { a: 'v3' }, removed: [] });
    answer(w, 'n4', undefined);
    expect(w.refused.size).toBe(0);
    expect(w.held.get('a')).toBe('v3');
  });

  it('a NACK naming none of the offered resources refuses them all', () => {
    const w = synced(new Map());
    send(w, store({ a: res('v1'), b: res('v1') }), 'n2');
    expect(answer(w, 'n2', nack('internal error applying the response: boom'))).toMatchObject({ kind: 'nack', refused: ['a', 'b'] });
    expect(w.held.size).toBe(0);
    expect(w.refused).toEqual(new Map([['a', 'v1'], ['b', 'v1']]));
  });

  it.each([
    ['one entry', 'a: bad', ['a']],
    ['several, with names that contain slashes', 'ns/x: bad port; Kubernetes//Pod/ns/p: unknown enum 9', ['ns/x', 'Kubernetes//Pod/ns/p']],
    ['a reason that itself has a colon', 'a: field b: out of range', ['a']],
    ['a name the response did not carry, with one it did', 'zzz: bad; b: bad', ['b']],
    ['no entry form at all', 'everything is wrong', ['a', 'b', 'ns/x', 'Kubernetes//Pod/ns/p']],
    ['an empty message', '', ['a', 'b', 'ns/x', 'Kubernetes//Pod/ns/p']],
  ])('refusedNames: %s', (_name, message, expected) => {
    expect([...refusedNames(message, ['a', 'b', 'ns/x', 'Kubernetes//Pod/ns/p'])].sort()).toEqual([...expected].sort());
  });

  it('a NACKed removal still counts as done', () => {
    const w = synced(store({ a: res('v1') }));
    send(w, new Map(), 'n2');
    answer(w, 'n2', nack('whatever'));
    expect(w.held.size).toBe(0);
    expect(isEmptyPlan(planResponse(w, new Map()))).toBe(true);
  });

  it('refusals of resources the store dropped are forgotten', () => {
    const w = synced(new Map());
    send(w, store({ a: res('v1') }), 'n2');
    answer(w, 'n2', nack('a: bad'));
    const plan = planResponse(w, new Map());
    expect(plan.staleRefusals).toEqual(['a']);
    applyBookkeeping(w, plan);
    expect(w.refused.size).toBe(0);
  });

  it('a nonce other than the one in flight is stale and changes nothing', () => {
    const w = openWatch(req(), 0);
    send(w, store({ a: res('v1') }), 'n1');
    expect(answer(w, 'old', undefined)).toEqual({ kind: 'stale', nonce: 'old', expected: 'n1' });
    expect(answer(w, 'old', nack('x'))).toMatchObject({ kind: 'stale' });
    expect(w.held.size).toBe(0);
    expect(w.inFlight?.nonce).toBe('n1');
    answer(w, 'n1', undefined);
    expect(answer(w, 'n1', undefined)).toEqual({ kind: 'stale', nonce: 'n1', expected: undefined });
  });

  it('a change while a response is in flight waits for its answer', () => {
    const w = openWatch(req(), 0);
    send(w, store({ a: res('v1') }), 'n1');
    w.dirtySince = 10;
    expect(responseDue(w)).toBe(false);
    answer(w, 'n1', undefined);
    expect(responseDue(w)).toBe(true);
  });
});

describe('changeSubscription', () => {
  it('explicit names end the legacy wildcard; held names no longer covered are forgotten silently', () => {
    const w = openWatch(req(), 0);
    send(w, store({ a: res('v1'), b: res('v1') }), 'n1');
    answer(w, 'n1', undefined);
    expect(changeSubscription(w, ['a'], [], 1)).toBe(true);
    expect(w.wildcard).toBe(false);
    const plan = planResponse(w, store({ a: res('v1'), b: res('v1') }));
    expect(summary(plan)).toEqual({ resources: { a: 'v1' }, removed: [] });
    expect(plan.forget).toEqual(['b']);
  });

  it('explicit names with `*` keep the wildcard', () => {
    const w = openWatch(req(), 0);
    changeSubscription(w, ['*', 'a'], [], 1);
    expect(w).toMatchObject({ wildcard: true, legacyWildcard: false });
  });

  it('a newly subscribed name is sent; one that matches nothing is announced removed once', () => {
    const w = openWatch(req({ resourceNamesSubscribe: ['*'], resourceNamesUnsubscribe: ['*'] }), 0);
    send(w, store({ a: res('v1') }), 'n1');
    answer(w, 'n1', undefined);
    expect(responseDue(w)).toBe(false);
    expect(changeSubscription(w, ['a', 'missing'], [], 7)).toBe(true);
    expect(w.dirtySince).toBe(7);
    expect(send(w, store({ a: res('v1') }), 'n2')).toEqual({ resources: { a: 'v1' }, removed: ['missing'] });
    answer(w, 'n2', undefined);
    expect(w.absent).toEqual(new Set(['missing']));
    expect(isEmptyPlan(planResponse(w, store({ a: res('v1') })))).toBe(true);
    // It appears, then disappears again: both are told.
    expect(send(w, store({ a: res('v1'), missing: res('v1') }), 'n3')).toEqual({ resources: { missing: 'v1' }, removed: [] });
    answer(w, 'n3', undefined);
    expect(send(w, store({ a: res('v1') }), 'n4')).toEqual({ resources: {}, removed: ['missing'] });
  });

  it('unsubscribing needs no response and drops what was held under the name', () => {
    const w = openWatch(req({ resourceNamesSubscribe: ['a', 'b'] }), 0);
    send(w, store({ a: res('v1'), b: res('v1') }), 'n1');
    answer(w, 'n1', undefined);
    expect(changeSubscription(w, [], ['b'], 1)).toBe(false);
    expect([...w.held.keys()]).toEqual(['a']);
    // Resubscribing sends it again: the proxy dropped it.
    expect(changeSubscription(w, ['b'], [], 2)).toBe(true);
    expect(send(w, store({ a: res('v1'), b: res('v1') }), 'n2')).toEqual({ resources: { b: 'v1' }, removed: [] });
  });

  it('unsubscribing `*` keeps only the explicit names', () => {
    const w = openWatch(req({ resourceNamesSubscribe: ['*', 'a'] }), 0);
    send(w, store({ a: res('v1'), b: res('v1') }), 'n1');
    answer(w, 'n1', undefined);
    changeSubscription(w, [], ['*'], 1);
    expect(w.wildcard).toBe(false);
    expect([...w.held.keys()]).toEqual(['a']);
  });

  it('subscribing a name the wildcard already covers does not re-send it', () => {
    const w = openWatch(req({ resourceNamesSubscribe: ['*'] }), 0);
    send(w, store({ a: res('v1') }), 'n1');
    answer(w, 'n1', undefined);
    changeSubscription(w, ['a'], [], 1);
    expect(isEmptyPlan(planResponse(w, store({ a: res('v1') })))).toBe(true);
  });
});
