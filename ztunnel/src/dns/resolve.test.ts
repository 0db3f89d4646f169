// What the DNS proxy answers itself: service hostnames from the state, the Kubernetes short forms
// relative to the client's namespace, search suffixes stripped (with a CNAME), wildcards, record
// families, and everything it leaves to the upstream resolvers.
import { describe, expect, it } from 'vitest';
import { service, workload } from '../state/fixtures.ts';
import { ProxyState } from '../state/proxy-state.ts';
import { CLASS_IN, RR_TYPE, type DnsRecord } from './message.ts';
import { buildHostCatalog, findHost, podSearchDomains, resolve, shortFormExpansions, type HostCatalog } from './resolve.ts';

const catalog: HostCatalog = new Map([
  ['web.prod.svc.cluster.local', ['10.96.0.10', 'fd00::a']],
  ['db.prod.svc.cluster.local', ['10.96.0.11']],
  ['web.dev.svc.cluster.local', ['10.96.1.10']],
  ['v6only.prod.svc.cluster.local', ['fd00::b']],
  ['headless-none.prod.svc.cluster.local', []],
  ['pod-0.sts.prod.svc.cluster.local', ['10.0.0.5']],
  ['api.example.com', ['240.240.0.1']],
  ['*.wild.example.com', ['240.240.0.2']],
  ['*.example.com', ['240.240.0.3']],
]);

const a = (name: string, address: string): DnsRecord => ({ kind: 'A', name, class: CLASS_IN, ttl: 30, address });
const aaaa = (name: string, address: string): DnsRecord => ({ kind: 'AAAA', name, class: CLASS_IN, ttl: 30, address });
const cname = (name: string, target: string): DnsRecord => ({ kind: 'CNAME', name, class: CLASS_IN, ttl: 30, target });

function ask(name: string, type: number = RR_TYPE.A, clientNamespace = 'prod', cls = CLASS_IN) {
  return resolve({ catalog, clientNamespace, question: { name, type, class: cls } });
}

describe('resolve', () => {
  it.each<[string, string, number, DnsRecord[]]>([
    ['a full service name', 'web.prod.svc.cluster.local', RR_TYPE.A, [a('web.prod.svc.cluster.local', '10.96.0.10')]],
    ['a full name with a final dot, in any case', 'Web.Prod.SVC.cluster.local.', RR_TYPE.A, [a('Web.Prod.SVC.cluster.local.', '10.96.0.10')]],
    ['AAAA of a dual-stack service', 'web.prod.svc.cluster.local', RR_TYPE.AAAA, [aaaa('web.prod.svc.cluster.local', 'fd00::a')]],
    ['A of an IPv6-only service: empty, not NXDOMAIN', 'v6only.prod.svc.cluster.local', RR_TYPE.A, []],
    ['a service with no addresses', 'headless-none.prod.svc.cluster.local', RR_TYPE.A, []],
    ['`name` in the client namespace', 'web', RR_TYPE.A, [cname('web', 'web.prod.svc.cluster.local'), a('web.prod.svc.cluster.local', '10.96.0.10')]],
    ['`name.namespace` in another namespace', 'web.dev', RR_TYPE.A, [cname('web.dev', 'web.dev.svc.cluster.local'), a('web.dev.svc.cluster.local', '10.96.1.10')]],
    ['`name.namespace.svc`', 'db.prod.svc', RR_TYPE.A, [cname('db.prod.svc', 'db.prod.svc.cluster.local'), a('db.prod.svc.cluster.local', '10.96.0.11')]],
    ['`pod.subdomain` of the client namespace', 'pod-0.sts', RR_TYPE.A, [cname('pod-0.sts', 'pod-0.sts.prod.svc.cluster.local'), a('pod-0.sts.prod.svc.cluster.local', '10.0.0.5')]],
    ['`pod.subdomain.namespace`', 'pod-0.sts.prod', RR_TYPE.A, [cname('pod-0.sts.prod', 'pod-0.sts.prod.svc.cluster.local'), a('pod-0.sts.prod.svc.cluster.local', '10.0.0.5')]],
    ['`pod.subdomain.namespace.svc`', 'pod-0.sts.prod.svc', RR_TYPE.A, [cname('pod-0.sts.prod.svc', 'pod-0.sts.prod.svc.cluster.local'), a('pod-0.sts.prod.svc.cluster.local', '10.0.0.5')]],
    [
      'a short name with the client search suffix appended',
      'web.dev.prod.svc.cluster.local',
      RR_TYPE.A,
      [cname('web.dev.prod.svc.cluster.local', 'web.dev.svc.cluster.local'), a('web.dev.svc.cluster.local', '10.96.1.10')],
    ],
    [
      'an external host with a search suffix appended',
      'api.example.com.prod.svc.cluster.local',
      RR_TYPE.A,
      [cname('api.example.com.prod.svc.cluster.local', 'api.example.com'), a('api.example.com', '240.240.0.1')],
    ],
    ['an exact host beats a wildcard', 'api.example.com', RR_TYPE.A, [a('api.example.com', '240.240.0.1')]],
    ['the most specific wildcard', 'x.wild.example.com', RR_TYPE.A, [a('x.wild.example.com', '240.240.0.2')]],
    ['a wider wildcard', 'deep.name.example.com', RR_TYPE.A, [a('deep.name.example.com', '240.240.0.3')]],
  ])('answers %s', (_what, name, type, records) => {
    expect(ask(name, type)).toEqual({ kind: 'answer', records, host: expect.any(String) });
  });

  it('resolves a short name relative to the asking pod', () => {
    expect(ask('web', RR_TYPE.A, 'dev')).toMatchObject({ kind: 'answer', host: 'web.dev.svc.cluster.local' });
    expect(ask('db', RR_TYPE.A, 'dev')).toEqual({ kind: 'forward', reason: 'unknown-name' });
  });

  it.each<[string, string, number, number, string]>([
    ['an unknown name', 'nope.prod.svc.cluster.local', RR_TYPE.A, CLASS_IN, 'unknown-name'],
    ['an external name', 'www.google.com', RR_TYPE.A, CLASS_IN, 'unknown-name'],
    ['the root', '', RR_TYPE.A, CLASS_IN, 'unknown-name'],
    ['a bare wildcard parent', 'example.com', RR_TYPE.A, CLASS_IN, 'unknown-name'],
    ['other record types for a known name', 'web.prod.svc.cluster.local', RR_TYPE.SRV, CLASS_IN, 'query-type'],
    ['ANY', 'web.prod.svc.cluster.local', RR_TYPE.ANY, CLASS_IN, 'query-type'],
    ['another class', 'web.prod.svc.cluster.local', RR_TYPE.A, 3, 'query-class'],
  ])('forwards %s', (_what, name, type, cls, reason) => {
    expect(ask(name, type, 'prod', cls)).toEqual({ kind: 'forward', reason });
  });

  it('uses the search list it is given, and the cluster domain', () => {
    const cat: HostCatalog = new Map([['web.prod.svc.corp.internal', ['10.1.1.1']]]);
    const r = resolve({ catalog: cat, clientNamespace: 'prod', clusterDomain: 'corp.internal', searchDomains: ['lab.example'], question: { name: 'web.lab.example', type: RR_TYPE.A, class: CLASS_IN } });
    expect(r).toMatchObject({ kind: 'answer', host: 'web.prod.svc.corp.internal' });
    expect(podSearchDomains('prod')).toEqual(['prod.svc.cluster.local', 'svc.cluster.local', 'cluster.local']);
  });

  it('expands short forms only for names outside the cluster domain', () => {
    expect(shortFormExpansions('web', 'ns', 'cluster.local')).toEqual(['web.ns.svc.cluster.local']);
    expect(shortFormExpansions('a.b', 'ns', 'cluster.local')).toEqual(['a.b.svc.cluster.local', 'a.b.ns.svc.cluster.local']);
    expect(shortFormExpansions('a.b.svc', 'ns', 'cluster.local')).toEqual(['a.b.svc.cluster.local']);
    expect(shortFormExpansions('a.b.c.d.e', 'ns', 'cluster.local')).toEqual([]);
    expect(shortFormExpansions('svc.cluster.local', 'ns', 'cluster.local')).toEqual([]);
    expect(findHost(catalog, 'cluster.local', 'prod', 'cluster.local', [])).toBeUndefined();
  });
});

describe('buildHostCatalog', () => {
  it('takes VIPs on our network, headless endpoints, and merges shared hostnames', () => {
    const state = new ProxyState();
    state.upsertService(service({ name: 'web', namespace: 'prod', vips: [{ network: '', address: '10.96.0.10' }, { network: 'other', address: '10.200.0.1' }, { network: '', address: 'fd00::a' }] }));
    state.upsertService(service({ name: 'remote', namespace: 'prod', vips: [{ network: 'other', address: '10.200.0.2' }] }));
    state.upsertService(service({ name: 'sts', namespace: 'prod', vips: [] }));
    state.upsertService(service({ name: 'se', namespace: 'a', hostname: 'API.example.com', vips: [{ network: '', address: '240.240.0.1' }] }));
    state.upsertService(service({ name: 'se', namespace: 'b', hostname: 'api.example.com', vips: [{ network: '', address: '240.240.0.9' }, { network: '', address: '240.240.0.1' }] }));
    state.upsertWorkload(workload({ name: 'sts-0', namespace: 'prod', ip: '10.0.0.5', services: { 'prod/sts.prod.svc.cluster.local': { 80: 8080 } } }));
    state.upsertWorkload(workload({ name: 'sts-1', namespace: 'prod', ip: '10.0.0.6', status: 'UNHEALTHY', services: { 'prod/sts.prod.svc.cluster.local': { 80: 8080 } } }));
    const cat = buildHostCatalog(state.services(), (k) => state.serviceEndpoints(k), '');
    expect(Object.fromEntries(cat)).toEqual({
      'web.prod.svc.cluster.local': ['10.96.0.10', 'fd00::a'],
      'remote.prod.svc.cluster.local': ['10.200.0.2'],
      'sts.prod.svc.cluster.local': ['10.0.0.5'],
      'api.example.com': ['240.240.0.1', '240.240.0.9'],
    });
  });
});
