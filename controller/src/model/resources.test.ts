// Resource names, aliases and content-hash versions of the workload-xDS resource set (fact sheet §4.2).
import { describe, expect, it } from 'vitest';
import { ADDRESS_TYPE_URL, addressCodec, AUTHORIZATION_TYPE_URL, authorizationCodec, unpackAny, type Address, type Authorization } from '../../../lib/proto/index.ts';
import { modelOptions } from './options.ts';
import {
  authorizationResourceName,
  buildResourceSet,
  resourceVersion,
  serviceAliases,
  serviceResourceName,
  workloadAliases,
  workloadResource,
  workloadResourceName,
  type ModelSnapshot,
  type ResourceSet,
} from './resources.ts';
import { buildService } from './services.ts';
import { authzPolicy, namespace, node, peerAuth, pod, service } from './test-fixtures.ts';
import { buildWorkload } from './workloads.ts';

const options = modelOptions();

function snapshot(): ModelSnapshot {
  return {
    namespaces: [namespace('default'), namespace('istio-system')],
    nodes: [node('node1', { 'topology.kubernetes.io/zone': 'z1' })],
    pods: [pod({ name: 'echo-1', labels: { app: 'echo' } }), pod({ name: 'echo-2', labels: { app: 'echo' }, ips: ['10.244.1.6'] })],
    services: [service(), service({ name: 'ext', type: 'ExternalName', clusterIP: '', clusterIPs: [] })],
    authorizationPolicies: [authzPolicy('default', 'allow-ns', { rules: [{ from: [{ source: { namespaces: ['default'] } }] }] })],
    peerAuthentications: [],
  };
}

function versions(set: ResourceSet): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [typeUrl, byName] of set) for (const [name, e] of byName) out[`${typeUrl} ${name}`] = e.version;
  return out;
}

function addressOf(set: ResourceSet, name: string): Address {
  const e = set.get(ADDRESS_TYPE_URL)?.get(name);
  if (!e) throw new Error(`no address ${name}`);
  const r = unpackAny(addressCodec, e.resource);
  if (!r.ok) throw r.error;
  return r.value;
}

describe('resource names and aliases', () => {
  const w = buildWorkload(pod({ name: 'p', namespace: 'ns1', ips: ['10.244.1.5', 'fd00::1:5'] }), {}, options)!;
  const s = (() => {
    const r = buildService(service({ name: 'web', namespace: 'ns1', clusterIPs: ['10.96.0.7', 'fd00:96::7'] }), {}, options);
    if (!r.ok) throw new Error(r.message);
    return r.service;
  })();

  it('names a workload by uid, a service by ns/hostname, a policy by ns/name', () => {
    expect(workloadResourceName(w)).toBe('Kubernetes//Pod/ns1/p');
    expect(serviceResourceName(s)).toBe('ns1/web.ns1.svc.cluster.local');
    expect(authorizationResourceName({ name: 'deny', namespace: 'ns1', scope: 0, action: 1, rules: [], dryRun: false, extensions: [] })).toBe('ns1/deny');
  });

  it('aliases each address as <network>/<ip>', () => {
    expect(workloadAliases(w)).toEqual(['/10.244.1.5', '/fd00::1:5']);
    expect(serviceAliases(s)).toEqual(['/10.96.0.7', '/fd00:96::7']);
    const onNet = buildWorkload(pod({ ips: ['10.0.0.1'] }), {}, modelOptions({ network: 'net1' }))!;
    expect(workloadAliases(onNet)).toEqual(['net1/10.0.0.1']);
    expect(serviceAliases({ ...s, addresses: [{ network: 'n', address: Buffer.from([10, 0, 0, 0]), length: 8 }] })).toEqual(['n/10.0.0.0/8']);
  });

  it('versions a resource by its bytes', () => {
    const e = workloadResource(w);
    expect(e.version).toMatch(/^[0-9a-f]{16}$/);
    expect(e.version).toBe(resourceVersion(e.resource));
    expect(workloadResource({ ...w }).version).toBe(e.version);
    expect(workloadResource({ ...w, status: 1 }).version).not.toBe(e.version);
  });
});

describe('buildResourceSet', () => {
  it('holds Addresses and Authorizations under their type URLs', () => {
    const { resources, diagnostics } = buildResourceSet(snapshot(), options);
    expect([...resources.keys()]).toEqual([ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL]);
    expect([...resources.get(ADDRESS_TYPE_URL)!.keys()].sort()).toEqual(['Kubernetes//Pod/default/echo-1', 'Kubernetes//Pod/default/echo-2', 'default/echo.default.svc.cluster.local']);
    expect([...resources.get(AUTHORIZATION_TYPE_URL)!.keys()]).toEqual(['default/allow-ns']);
    expect(diagnostics).toEqual([]);
    for (const byName of resources.values()) {
      for (const [name, e] of byName) {
        expect(e.version).toBe(resourceVersion(e.resource));
        if (e.resource.typeUrl === ADDRESS_TYPE_URL) {
          const a = unpackAny(addressCodec, e.resource);
          expect(a.ok, name).toBe(true);
        } else {
          const a = unpackAny(authorizationCodec, e.resource);
          if (!a.ok) throw a.error;
          expect(authorizationResourceName(a.value)).toBe(name);
        }
      }
    }
  });

  it('wraps each Workload and Service in an Address', () => {
    const { resources } = buildResourceSet(snapshot(), options);
    expect(addressOf(resources, 'Kubernetes//Pod/default/echo-1').type?.$case).toBe('workload');
    expect(addressOf(resources, 'default/echo.default.svc.cluster.local').type?.$case).toBe('service');
    expect(resources.get(ADDRESS_TYPE_URL)!.get('Kubernetes//Pod/default/echo-2')!.aliases).toEqual(['/10.244.1.6']);
  });

  it('gives an unchanged resource the same version on every rebuild, whatever the input order', () => {
    const a = buildResourceSet(snapshot(), options).resources;
    const s = snapshot();
    const shuffled: ModelSnapshot = { ...s, pods: [...s.pods].reverse(), services: [...s.services].reverse(), namespaces: [...s.namespaces].reverse() };
    expect(versions(buildResourceSet(shuffled, options).resources)).toEqual(versions(a));
  });

  it('changes only the versions of what changed', () => {
    const before = versions(buildResourceSet(snapshot(), options).resources);
    const s = snapshot();
    const changed: ModelSnapshot = { ...s, pods: [pod({ name: 'echo-1', labels: { app: 'echo' }, ready: false }), s.pods[1]!] };
    const after = versions(buildResourceSet(changed, options).resources);
    const differ = Object.keys(before).filter((k) => before[k] !== after[k]);
    expect(differ).toEqual([`${ADDRESS_TYPE_URL} Kubernetes//Pod/default/echo-1`]);
  });

  it('reports refused and partly translated inputs', () => {
    const s: ModelSnapshot = {
      ...snapshot(),
      services: [service({ name: 'bad', clusterIP: '10.96.0.999' })],
      authorizationPolicies: [
        authzPolicy('default', 'ext-authz', { action: 'CUSTOM', provider: { name: 'x' }, rules: [{}] }),
        authzPolicy('default', 'get-only', { rules: [{ to: [{ operation: { methods: ['GET'] } }] }] }),
        authzPolicy('default', 'for-waypoint', { targetRefs: [{ kind: 'Service', name: 'echo' }] }),
      ],
    };
    const { resources, diagnostics } = buildResourceSet(s, options);
    expect(diagnostics.map((d) => [d.kind, `${d.namespace}/${d.name}`, d.severity])).toEqual([
      ['AuthorizationPolicy', 'default/ext-authz', 'refused'],
      ['AuthorizationPolicy', 'default/get-only', 'warning'],
      ['Service', 'default/bad', 'refused'],
    ]);
    expect([...resources.get(AUTHORIZATION_TYPE_URL)!.keys()]).toEqual(['default/get-only']);
    expect(resources.get(ADDRESS_TYPE_URL)!.has('default/bad.default.svc.cluster.local')).toBe(false);
    // ...and no workload claims to be an endpoint of it.
    const w = addressOf(resources, 'Kubernetes//Pod/default/echo-1');
    expect(w.type?.$case === 'workload' && w.type.workload.services).toEqual({});
  });

  it('attaches selector and PeerAuthentication policies to the workloads they apply to', () => {
    const s: ModelSnapshot = {
      ...snapshot(),
      pods: [pod({ name: 'echo-1', labels: { app: 'echo' } }), pod({ name: 'other', labels: { app: 'other' } })],
      authorizationPolicies: [authzPolicy('default', 'echo-only', { selector: { matchLabels: { app: 'echo' } }, action: 'DENY', rules: [{ to: [{ operation: { ports: ['9999'] } }] }] })],
      peerAuthentications: [peerAuth('default', 'strict', { mtls: { mode: 'STRICT' } })],
    };
    const { resources } = buildResourceSet(s, options);
    const policiesOf = (name: string) => {
      const a = addressOf(resources, `Kubernetes//Pod/default/${name}`);
      return a.type?.$case === 'workload' ? a.type.workload.authorizationPolicies : undefined;
    };
    expect(policiesOf('echo-1')).toEqual(['default/echo-only', 'istio-system/istio_converted_static_strict']);
    expect(policiesOf('other')).toEqual(['istio-system/istio_converted_static_strict']);
    const names = [...resources.get(AUTHORIZATION_TYPE_URL)!.keys()];
    expect(names).toEqual(['default/echo-only', 'istio-system/istio_converted_static_strict']);
    // Every name a workload lists is a resource that exists (ztunnel skips unknown names).
    for (const n of [...(policiesOf('echo-1') ?? []), ...(policiesOf('other') ?? [])]) expect(names).toContain(n);
  });

  it('decodes to exactly what was built', () => {
    const s = snapshot();
    const { resources } = buildResourceSet(s, options);
    const built = buildWorkload(s.pods[0]!, { services: s.services, node: s.nodes![0]!, namespace: s.namespaces[0]! }, options)!;
    const a = addressOf(resources, 'Kubernetes//Pod/default/echo-1');
    expect(a).toEqual({ type: { $case: 'workload', workload: built } });
    const authz = unpackAny(authorizationCodec, resources.get(AUTHORIZATION_TYPE_URL)!.get('default/allow-ns')!.resource);
    if (!authz.ok) throw authz.error;
    const expected: Partial<Authorization> = { name: 'allow-ns', namespace: 'default', scope: 1, action: 0 };
    expect(authz.value).toMatchObject(expected);
  });
});
