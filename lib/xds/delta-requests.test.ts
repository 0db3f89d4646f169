// The delta xDS client's plans without sockets: subscribe/ACK/NACK requests, version bookkeeping
// and reading the control plane address.
import { describe, expect, it } from 'vitest';
import { deltaDiscoveryRequestCodec, type Node } from '../proto/index.ts';
import { ackRequest, nextVersions, parseXdsAddress, subscribeRequest } from './delta-requests.ts';

const node: Node = { id: 'ztunnel~10.0.0.5~zt.istio-system~istio-system.svc.cluster.local', cluster: '', userAgentName: '', dynamicParameters: {}, extensions: [], clientFeatures: [], listeningAddresses: [] };

describe('subscribeRequest', () => {
  it('is a wildcard subscription with the node and every held version', () => {
    const held = new Map([['Kubernetes//Pod/ns/a', 'v1'], ['ns/svc.ns.svc.cluster.local', 'v2']]);
    const req = subscribeRequest(node, 't', held);
    expect(req).toEqual({
      node,
      typeUrl: 't',
      resourceNamesSubscribe: [],
      resourceNamesUnsubscribe: [],
      resourceLocatorsSubscribe: [],
      resourceLocatorsUnsubscribe: [],
      initialResourceVersions: { 'Kubernetes//Pod/ns/a': 'v1', 'ns/svc.ns.svc.cluster.local': 'v2' },
      responseNonce: '',
    });
    // Round-trips on the wire (no error_detail, no nonce).
    const r = deltaDiscoveryRequestCodec.decode(deltaDiscoveryRequestCodec.encode(req));
    expect(r.ok && r.value).toEqual(req);
  });
});

describe('ackRequest', () => {
  it('an ACK is the type URL and the nonce only', () => {
    expect(ackRequest('t', 'n1')).toEqual({ typeUrl: 't', responseNonce: 'n1', resourceNamesSubscribe: [], resourceNamesUnsubscribe: [], resourceLocatorsSubscribe: [], resourceLocatorsUnsubscribe: [], initialResourceVersions: {} });
  });

  it('a NACK lists `name: reason` joined by "; "', () => {
    const req = ackRequest('t', 'n2', [{ name: 'a', reason: 'bad uid' }, { name: 'b', reason: 'worse' }]);
    expect(req).toMatchObject({ typeUrl: 't', responseNonce: 'n2', errorDetail: { code: 3, message: 'a: bad uid; b: worse', details: [] } });
  });

  it('a NACK of the whole response carries the message', () => {
    expect(ackRequest('t', 'n3', [], 'not subscribed to t').errorDetail?.message).toBe('not subscribed to t');
    expect(ackRequest('t', 'n3', [{ name: 'x', reason: 'y' }], 'first').errorDetail?.message).toBe('first; x: y');
  });
});

describe('nextVersions', () => {
  const held = new Map([['a', '1'], ['b', '1'], ['c', '1']]);

  it('accepted resources take the new version, rejected keep the old, removed go', () => {
    const next = nextVersions(held, [{ name: 'a', version: '2' }, { name: 'b', version: '2' }, { name: 'd', version: '1' }, { name: 'e', version: '1' }], ['c', 'zzz'], [{ name: 'b', reason: 'x' }, { name: 'e', reason: 'y' }]);
    expect(Object.fromEntries(next)).toEqual({ a: '2', b: '1', d: '1' });
    expect(Object.fromEntries(held)).toEqual({ a: '1', b: '1', c: '1' });
  });
});

describe('parseXdsAddress', () => {
  it.each([
    ['https://istiod.istio-system.svc:15012', { target: 'istiod.istio-system.svc:15012', host: 'istiod.istio-system.svc', tls: true }],
    ['http://127.0.0.1:15010', { target: '127.0.0.1:15010', host: '127.0.0.1', tls: false }],
    ['https://istiod', { target: 'istiod:15012', host: 'istiod', tls: true }],
    ['https://istiod:443', { target: 'istiod:443', host: 'istiod', tls: true }],
    ['http://[::1]:15010/', { target: '[::1]:15010', host: '::1', tls: false }],
  ])('%s', (address, value) => {
    expect(parseXdsAddress(address)).toEqual({ ok: true, value });
  });

  it.each([
    ['istiod:15012', /scheme must be https or http|not a URL/],
    ['grpc://istiod:15012', /scheme must be https or http/],
    ['https://istiod:15012/path', /only scheme, host and port/],
    ['', /not a URL/],
  ])('refuses %j', (address, error) => {
    const r = parseXdsAddress(address);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(error);
  });
});
