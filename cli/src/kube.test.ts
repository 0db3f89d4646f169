// The client-node adapters against a loopback stand-in for the apiserver: the paths, verbs, content
// types and query parameters `waypoint` sends, and how API errors come back.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeWaypointApi, loadKubeContext, type WaypointApi } from './kube.ts';
import { makeGateway } from './waypoint/gateway.ts';

interface Seen { method: string; url: string; contentType: string; body: string }

describe('kubeWaypointApi', () => {
  let server: Server;
  let dir: string;
  let api: WaypointApi;
  const seen: Seen[] = [];
  let crds = true;

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', contentType: String(req.headers['content-type'] ?? ''), body });
        const json = (code: number, v: unknown) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(v));
        const url = new URL(req.url ?? '/', 'http://x');
        if (url.pathname.startsWith('/apis/gateway.networking.k8s.io/') && !crds) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found');
        if (url.pathname === '/apis/gateway.networking.k8s.io/v1/namespaces/demo/gateways') return json(200, { items: [{ metadata: { name: 'waypoint', namespace: 'demo' }, spec: { gatewayClassName: 'istio-waypoint' } }] });
        if (url.pathname === '/apis/gateway.networking.k8s.io/v1/gateways') return json(200, { items: [] });
        if (url.pathname === '/apis/gateway.networking.k8s.io/v1/namespaces/demo/gateways/waypoint') return json(200, { metadata: { name: 'waypoint', namespace: 'demo' } });
        if (url.pathname === '/apis/gateway.networking.k8s.io/v1/namespaces/demo/gateways/ghost') return json(404, { kind: 'Status', message: 'gateways.gateway.networking.k8s.io "ghost" not found', code: 404 });
        if (url.pathname === '/api/v1/namespaces/demo' && req.method === 'GET') return json(200, { metadata: { name: 'demo', labels: { 'istio.io/dataplane-mode': 'ambient' } } });
        if (url.pathname === '/api/v1/namespaces/nope') return json(404, { kind: 'Status', message: 'namespaces "nope" not found', code: 404 });
        return json(403, { kind: 'Status', message: 'forbidden: no', code: 403 });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    dir = mkdtempSync(join(tmpdir(), 'ambientctl-kube-'));
    const kubeconfig = join(dir, 'config');
    writeFileSync(kubeconfig, `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "http://127.0.0.1:${(server.address() as AddressInfo).port}", insecure-skip-tls-verify: true } }]
users: [{ name: u, user: { token: t } }]
contexts: [{ name: ctx, context: { cluster: c, user: u, namespace: demo } }]
current-context: ctx
`);
    const k = loadKubeContext({ kubeconfig });
    expect(k.defaultNamespace).toBe('demo');
    api = kubeWaypointApi(k.kc);
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies a Gateway with server-side apply as field manager istioctl', async () => {
    seen.length = 0;
    await api.applyGateway(makeGateway({ name: 'waypoint', namespace: 'demo' }) as never, 'istioctl');
    expect(seen[0]).toMatchObject({ method: 'PATCH', contentType: 'application/apply-patch+yaml' });
    expect(seen[0]!.url).toBe('/apis/gateway.networking.k8s.io/v1/namespaces/demo/gateways/waypoint?fieldManager=istioctl');
    expect(JSON.parse(seen[0]!.body)).toMatchObject({ kind: 'Gateway', spec: { gatewayClassName: 'istio-waypoint' } });
  });

  it('lists, gets and deletes Gateways; 404 means absent', async () => {
    expect((await api.listGateways('demo')).map((g) => g.metadata.name)).toEqual(['waypoint']);
    expect(await api.listGateways(undefined)).toEqual([]);
    seen.length = 0;
    await api.listGateways('demo', 'istio.io/rev=canary');
    expect(seen[0]!.url).toBe('/apis/gateway.networking.k8s.io/v1/namespaces/demo/gateways?labelSelector=istio.io%2Frev%3Dcanary');
    expect((await api.getGateway('demo', 'waypoint'))?.metadata.name).toBe('waypoint');
    expect(await api.getGateway('demo', 'ghost')).toBeUndefined();
    expect(await api.deleteGateway('demo', 'ghost')).toBe(false);
  });

  it('reads and merge-patches Namespace labels', async () => {
    expect(await api.namespaceLabels('demo')).toEqual({ 'istio.io/dataplane-mode': 'ambient' });
    expect(await api.namespaceLabels('nope')).toBeUndefined();
    seen.length = 0;
    await expect(api.labelNamespace('demo', 'istio.io/use-waypoint', 'w')).rejects.toThrow('forbidden: no');
    expect(seen[0]).toMatchObject({ method: 'PATCH', url: '/api/v1/namespaces/demo', contentType: 'application/merge-patch+json' });
    expect(JSON.parse(seen[0]!.body)).toEqual({ metadata: { labels: { 'istio.io/use-waypoint': 'w' } } });
  });

  it('turns a missing API group into a 404 KubeError with the apiserver\'s wording', async () => {
    crds = false;
    try {
      await expect(api.applyGateway(makeGateway({ name: 'waypoint', namespace: 'demo' }) as never, 'istioctl')).rejects.toMatchObject({ status: 404, message: 'the server could not find the requested resource' });
    } finally {
      crds = true;
    }
  });
});
