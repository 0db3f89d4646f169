// Address resources → peers by IP, for telemetry.
import { describe, expect, it } from 'vitest';
import { addressCodec, packAny } from '../../../lib/proto/index.ts';
import { decodePeer, PeerTable } from './peers.ts';

const ip = (...b: number[]) => Buffer.from(b);

describe('decodePeer', () => {
  it('reads a workload’s names and identity, with Istio’s fallbacks', () => {
    const d = decodePeer(packAny(addressCodec, { type: { $case: 'workload', workload: { uid: 'Kubernetes//Pod/ns/a-1', name: 'a-1', namespace: 'ns', addresses: [ip(10, 244, 1, 5)], workloadName: 'a', clusterId: 'Kubernetes' } } }));
    expect(d).toEqual({
      ok: true,
      kind: 'workload',
      ips: ['10.244.1.5'],
      peer: { uid: 'Kubernetes//Pod/ns/a-1', name: 'a-1', namespace: 'ns', serviceAccount: 'default', workloadName: 'a', canonicalService: 'a', canonicalRevision: 'latest', cluster: 'Kubernetes', app: undefined, version: undefined, identity: 'spiffe://cluster.local/ns/ns/sa/default' },
    });
    const td = decodePeer(packAny(addressCodec, { type: { $case: 'workload', workload: { uid: 'u', name: 'b', namespace: 'ns', trustDomain: 'corp', serviceAccount: 'sa', canonicalName: 'b', canonicalRevision: 'v2' } } }));
    expect(td.ok && td.kind === 'workload' && td.peer).toMatchObject({ identity: 'spiffe://corp/ns/ns/sa/sa', app: 'b', version: 'v2' });
  });

  it('passes services over and refuses what is not an Address', () => {
    expect(decodePeer(packAny(addressCodec, { type: { $case: 'service', service: { name: 's', namespace: 'ns', hostname: 's.ns.svc.cluster.local' } } }))).toEqual({ ok: true, kind: 'service' });
    expect(decodePeer(packAny(addressCodec, { type: { $case: 'workload', workload: { uid: 'u', addresses: [ip(1, 2, 3)] } } }))).toEqual({ ok: false, error: 'workload.addresses[0]: an IP address must be 4 or 16 bytes, got 3' });
    expect(decodePeer({ typeUrl: 'type.googleapis.com/x.Y', value: new Uint8Array() }).ok).toBe(false);
  });
});

describe('PeerTable', () => {
  it('finds by IP (IPv4-mapped too), replaces and removes, keeping a shared IP for the other workload', () => {
    const t = new PeerTable();
    const peer = (name: string) => ({ uid: name, name, namespace: 'ns', serviceAccount: 'sa', workloadName: name, canonicalService: name, canonicalRevision: 'latest', cluster: 'c', identity: 'spiffe://cluster.local/ns/ns/sa/sa' });
    t.upsert('a', peer('a'), ['10.0.0.1', '172.18.0.2']);
    t.upsert('b', peer('b'), ['172.18.0.2']);
    expect(t.findByIp('10.0.0.1')?.name).toBe('a');
    expect(t.findByIp('::ffff:10.0.0.1')?.name).toBe('a');
    expect(t.findByIp('172.18.0.2')?.name).toBe('b');
    t.remove('b');
    expect(t.findByIp('172.18.0.2')?.name).toBe('a');
    t.upsert('a', peer('a'), ['10.0.0.9']);
    expect(t.findByIp('10.0.0.1')).toBeUndefined();
    expect(t.findByIp('10.0.0.9')?.name).toBe('a');
    expect(t.remove('nope')).toBe(false);
    expect(t.size).toBe(1);
  });
});
