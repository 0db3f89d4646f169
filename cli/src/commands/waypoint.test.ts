import { describe, expect, it } from 'vitest';
import { main } from '../ambientctl.ts';
import type { WaypointApi } from '../kube.ts';
import { KubeError } from '../kube.ts';
import type { Gateway } from '../waypoint/gateway.ts';
import { gw } from '../waypoint/test-fixtures.ts';

/** An in-memory apiserver for Gateways and Namespaces, recording the writes. */
class FakeApi implements WaypointApi {
  gateways: Gateway[] = [];
  namespaces = new Map<string, Record<string, string>>([['default', {}]]);
  applied: { gw: Gateway; fieldManager: string }[] = [];
  labelled: string[] = [];
  crdsMissing = false;
  /** How many getGateway calls until an applied Gateway turns Programmed (Infinity: never). */
  programmedAfter = 0;
  gets = 0;
  failDelete = new Set<string>();

  async listGateways(namespace: string | undefined, labelSelector?: string) {
    const [k, v] = labelSelector?.split('=') ?? [];
    return this.gateways.filter((g) => (namespace === undefined || g.metadata.namespace === namespace) && (!k || g.metadata.labels?.[k] === v));
  }
  async getGateway(namespace: string, name: string) {
    this.gets++;
    const g = this.gateways.find((x) => x.metadata.namespace === namespace && x.metadata.name === name);
    if (g && this.gets > this.programmedAfter) return { ...g, status: { conditions: [{ type: 'Programmed', status: 'True', reason: 'Programmed', message: 'ok' }] } };
    return g;
  }
  async applyGateway(g: Gateway & { metadata: { namespace: string } }, fieldManager: string) {
    if (this.crdsMissing) throw new KubeError('the server could not find the requested resource', 404);
    this.applied.push({ gw: g, fieldManager });
    this.gateways = [...this.gateways.filter((x) => !(x.metadata.namespace === g.metadata.namespace && x.metadata.name === g.metadata.name)), g];
  }
  async deleteGateway(namespace: string, name: string) {
    if (this.failDelete.has(name)) throw new KubeError(`gateways "${name}" is forbidden`, 403);
    const before = this.gateways.length;
    this.gateways = this.gateways.filter((x) => !(x.metadata.namespace === namespace && x.metadata.name === name));
    return this.gateways.length < before;
  }
  async namespaceLabels(name: string) {
    return this.namespaces.get(name);
  }
  async labelNamespace(name: string, key: string, value: string) {
    this.labelled.push(`${name} ${key}=${value}`);
    this.namespaces.set(name, { ...this.namespaces.get(name), [key]: value });
  }
}

async function run(api: FakeApi, ...argv: string[]) {
  let out = '';
  let err = '';
  let clock = 0;
  const code = await main(argv, {
    io: { out: (s) => void (out += s), err: (s) => void (err += s) },
    env: {},
    waypointApi: () => ({ api, defaultNamespace: 'default' }),
    now: () => clock,
    sleep: async (ms) => void (clock += ms),
  });
  return { code, out, err };
}

describe('ambientctl waypoint apply', () => {
  it('server-side applies the Gateway as field manager istioctl and prints istioctl\'s line', async () => {
    const api = new FakeApi();
    expect(await run(api, 'waypoint', 'apply', '--for', 'workload')).toEqual({ code: 0, out: '✅ waypoint default/waypoint applied\n', err: '' });
    expect(api.applied).toHaveLength(1);
    expect(api.applied[0]!.fieldManager).toBe('istioctl');
    expect(api.applied[0]!.gw.metadata).toEqual({ name: 'waypoint', namespace: 'default', labels: { 'istio.io/waypoint-for': 'workload' } });
  });

  it('--wait polls until Programmed=True, then says it is ready', async () => {
    const api = new FakeApi();
    api.namespaces.set('app', { 'istio.io/dataplane-mode': 'ambient' });
    api.programmedAfter = 3;
    const r = await run(api, '-n', 'app', 'waypoint', 'apply', '--name', 'w1', '-w');
    expect(r).toEqual({ code: 0, out: '✅ waypoint app/w1 applied\n✅ waypoint app/w1 is ready!\n', err: '' });
    expect(api.gets).toBe(4);
  });

  it('--wait gives up after --waypoint-timeout with istioctl\'s error', async () => {
    const api = new FakeApi();
    api.programmedAfter = Infinity;
    const r = await run(api, 'waypoint', 'apply', '--wait', '--waypoint-timeout', '3s');
    expect(r.code).toBe(1);
    expect(r.out).toBe('✅ waypoint default/waypoint applied\n');
    expect(r.err).toBe('Error: timed out while waiting for waypoint\tdefault/waypoint\n');
  });

  it('--enroll-namespace warns about a non-ambient namespace, then labels it', async () => {
    const api = new FakeApi();
    const r = await run(api, 'waypoint', 'apply', '--enroll-namespace', '--name', 'wp');
    expect(r.out).toBe('⚠️ Warning: namespace is not enrolled in ambient. Consider running\t`kubectl label namespace default istio.io/dataplane-mode=ambient`\n'
      + '✅ waypoint default/wp applied\n✅ namespace default labeled with "istio.io/use-waypoint: wp"\n');
    expect(api.labelled).toEqual(['default istio.io/use-waypoint=wp']);
  });

  it('--enroll-namespace on an enrolled namespace without --overwrite only warns (exit 0); with it, relabels', async () => {
    const api = new FakeApi();
    api.namespaces.set('default', { 'istio.io/use-waypoint': 'old', 'istio.io/dataplane-mode': 'ambient' });
    expect(await run(api, 'waypoint', 'apply', '--enroll-namespace=true')).toEqual({
      code: 0, err: '', out: '⚠️ Warning: namespace (default) already has an enrolled Waypoint. Consider adding the `--overwrite` flag to your apply command.\n',
    });
    expect(api.applied).toEqual([]);
    const r = await run(api, 'waypoint', 'apply', '--enroll-namespace', '--overwrite');
    expect(r.out).toBe('✅ waypoint default/waypoint applied\n✅ namespace default labeled with "istio.io/use-waypoint: waypoint"\n');
  });

  it.each([
    [['--for', 'foo'], 'Error: failed to create gateway: invalid traffic type: foo. Valid options are: [all none service workload]\n'],
    [['--name', 'none'], "Error: failed to create gateway: invalid name provided for waypoint, 'none' is a reserved value\n"],
    [['-n', 'nope'], 'Error: namespace: nope not found\n'],
    [['--waypoint-timeout', '5'], 'Error: invalid argument "5" for "--waypoint-timeout" flag: time: invalid duration "5"\n'],
  ])('%j fails with exit 1', async (args, err) => {
    const api = new FakeApi();
    expect(await run(api, 'waypoint', 'apply', ...args)).toEqual({ code: 1, out: '', err });
    expect(api.applied).toEqual([]);
  });

  it('reports missing Gateway CRDs', async () => {
    const api = new FakeApi();
    api.crdsMissing = true;
    expect((await run(api, 'waypoint', 'apply')).err).toBe('Error: missing Kubernetes Gateway CRDs need to be installed before applying a waypoint: the server could not find the requested resource\n');
  });
});

describe('ambientctl waypoint list / delete / status', () => {
  const seeded = () => {
    const api = new FakeApi();
    api.gateways = [gw('default', 'waypoint', { programmed: 'True' }), gw('default', 'w2', { labels: { 'istio.io/rev': 'canary' } }), gw('other', 'waypoint', { programmed: 'True' }), gw('default', 'ingress', { cls: 'istio' })];
    return api;
  };

  it('lists one namespace or all of them', async () => {
    expect((await run(seeded(), 'waypoint', 'list')).out).toBe('NAME         REVISION     TRAFFIC TYPE     PROGRAMMED\nw2           canary       none             False\nwaypoint     default      none             True\n');
    expect((await run(seeded(), 'waypoint', 'list', '-A')).out.split('\n')[0]).toBe('NAMESPACE     NAME         REVISION     TRAFFIC TYPE     PROGRAMMED');
    expect((await run(new FakeApi(), 'waypoint', 'list')).out).toBe('No waypoints found.\n');
  });

  it('deletes named waypoints, saying which were not found (not other Gateway classes)', async () => {
    const api = seeded();
    const r = await run(api, 'waypoint', 'delete', 'waypoint', 'ghost', 'ingress');
    expect(r).toEqual({ code: 0, err: '', out: 'waypoint default/ghost not found\nwaypoint default/ingress not found\nwaypoint default/waypoint deleted\n' });
    expect(api.gateways.map((g) => `${g.metadata.namespace}/${g.metadata.name}`)).toEqual(['default/w2', 'other/waypoint', 'default/ingress']);
  });

  it('deletes --all or one --revision of the namespace', async () => {
    const api = seeded();
    expect((await run(api, 'waypoint', 'delete', '-r', 'canary')).out).toBe('waypoint default/w2 deleted\n');
    expect((await run(api, 'waypoint', 'delete', '--all')).out).toBe('waypoint default/waypoint deleted\n');
    expect(api.gateways.map((g) => g.metadata.name)).toEqual(['waypoint', 'ingress']);
  });

  it.each([
    [['--all', 'x'], 'Error: cannot specify waypoint names when deleting all waypoints\n'],
    [[], 'Error: must specify a waypoint name or delete all using --all or delete specific revision using --revision\n'],
  ])('delete %j is refused', async (args, err) => {
    expect(await run(seeded(), 'waypoint', 'delete', ...args)).toEqual({ code: 1, out: '', err });
  });

  it('reports failed deletes like go-multierror, after the successful ones', async () => {
    const api = seeded();
    api.failDelete.add('w2');
    const r = await run(api, 'waypoint', 'delete', 'w2', 'waypoint');
    expect(r.code).toBe(1);
    expect(r.out).toBe('waypoint default/waypoint deleted\n');
    expect(r.err).toBe('Error: 1 error occurred:\n\t* gateways "w2" is forbidden\n');
  });

  it('status polls each waypoint until Programmed, with NAMESPACE when -n is not given', async () => {
    const api = seeded();
    api.programmedAfter = 2;
    const r = await run(api, 'waypoint', 'status');
    expect(r.code).toBe(0);
    expect(r.out).toBe('NAMESPACE     NAME         STATUS     TYPE           REASON         MESSAGE\ndefault       w2           True       Programmed     Programmed     ok\ndefault       waypoint     True       Programmed     Programmed     ok\n');
    expect((await run(seeded(), 'waypoint', 'status', '-n', 'default')).out.split('\n')[0]).toBe('NAME         STATUS     TYPE           REASON         MESSAGE');
  });

  it('status times out with istioctl\'s message', async () => {
    const api = seeded();
    api.programmedAfter = Infinity;
    const r = await run(api, 'waypoint', 'status', '-n', 'default', '--waypoint-timeout', '2s');
    expect(r.code).toBe(1);
    expect(r.err).toBe('Error: timed out while retrieving status for waypoint\tdefault/w2\n');
  });

  it('generate needs no cluster and unknown sub-commands fail', async () => {
    const r = await main(['waypoint', 'generate', '-n', 'x'], { io: { out: () => {}, err: () => {} }, env: {}, waypointApi: () => { throw new Error('no cluster for generate'); } });
    expect(r).toBe(0);
    expect(await run(new FakeApi(), 'waypoint', 'frobnicate')).toEqual({ code: 1, out: '', err: 'Error: unknown subcommand "frobnicate"\n' });
  });
});
