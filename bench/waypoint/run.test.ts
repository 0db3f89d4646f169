import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { appsManifest, requestLabel, routingAndAuthorization, SCENARIOS, type Scenario } from './run.ts';

type Doc = { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec?: Record<string, unknown> };
const docs = (s: Scenario) => parseAllDocuments(appsManifest(s)).map((d) => d.toJSON() as Doc);

describe('bench/waypoint scenarios', () => {
  it('no mesh, L4, L4 + waypoint, L4 + waypoint with routing and authorization, in that order, the first the baseline', () => {
    expect(SCENARIOS.map((s) => [s.name, s.namespace, s.ambient, s.waypoint, s.ratioHead, s.extraManifest !== undefined])).toEqual([
      ['no mesh', 'bench-plain', false, false, undefined, false],
      ['L4', 'bench-l4', true, false, 'L4/base', false],
      ['L4+waypoint', 'bench-l7', true, true, 'wp/base', false],
      ['wp+VS+authz', 'bench-rules', true, true, 'rules/base', true],
    ]);
  });

  it('the routing row walks ten VirtualService rules and an ALLOW policy on the waypoint', () => {
    const docs = routingAndAuthorization('bench-rules').split('\n---\n').map((d) => parse(d) as { kind: string; spec: { http?: unknown[]; action?: string; targetRefs?: { kind: string; name: string }[] } });
    expect(docs.map((d) => d.kind)).toEqual(['VirtualService', 'AuthorizationPolicy']);
    expect(docs[0]!.spec.http).toHaveLength(10);
    expect(docs[1]!.spec).toMatchObject({ action: 'ALLOW', targetRefs: [{ kind: 'Gateway', name: 'waypoint' }] });
  });

  it('the same client (node1) and 1-replica echo (node2) in each, labelled per scenario', () => {
    const [plain, l4, l7] = SCENARIOS.map(docs);
    expect(plain!.map((d) => d.kind)).toEqual(['Namespace', 'ServiceAccount', 'ServiceAccount', 'Pod', 'Deployment', 'Service']);
    expect(plain![0]!.metadata.labels).toEqual({});
    expect(l4![0]!.metadata.labels).toEqual({ 'istio.io/dataplane-mode': 'ambient' });
    expect(l7![0]!.metadata.labels).toEqual({ 'istio.io/dataplane-mode': 'ambient', 'istio.io/use-waypoint': 'waypoint' });
    const pod = plain!.find((d) => d.kind === 'Pod')!;
    expect(pod.spec).toMatchObject({ nodeName: 'node1', containers: [{ image: 'lab/sleep' }] });
    const deploy = l4!.find((d) => d.kind === 'Deployment')!;
    expect(deploy.spec).toMatchObject({ replicas: 1, template: { spec: { nodeSelector: { 'kubernetes.io/hostname': 'node2' }, containers: [{ image: 'lab/http-echo' }] } } });
    expect(l4!.every((d) => d.kind === 'Namespace' || d.metadata.namespace === 'bench-l4')).toBe(true);
  });

  it('the waypoint scenario adds a Gateway of class istio-waypoint with the HBONE listener', () => {
    const gw = docs(SCENARIOS[2]!).find((d) => d.kind === 'Gateway')!;
    expect(gw).toMatchObject({ apiVersion: 'gateway.networking.k8s.io/v1', metadata: { name: 'waypoint', namespace: 'bench-l7' }, spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] } });
    expect(docs(SCENARIOS[1]!).some((d) => d.kind === 'Gateway')).toBe(false);
  });

  it('names the request', () => {
    expect([requestLabel({ bodyBytes: 1024 }), requestLabel({ bodyBytes: 64 }), requestLabel({ bodyBytes: 0 })]).toEqual(['POST 1 KiB', 'POST 64 B', 'GET']);
  });
});
