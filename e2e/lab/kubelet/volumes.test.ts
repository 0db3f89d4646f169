// The kubelet stand-in's mount planning and volume rendering, without a cluster: which volumes a pod
// gets, where they are linked, which specs are refused, and the files each source produces.
import { describe, expect, it } from 'vitest';
import {
  dataObject, formatMap, planMounts, referencedObjects, renderVolume, tokenRefreshAt, tokenSourceKey,
  type FileSource, type PodVolumeSpec, type RenderInputs, type Volume, type VolumeMount, type VolumePlan,
} from './volumes.ts';

/** The waypoint pod's volumes as the controller's Deployment template declares them. */
const WAYPOINT: PodVolumeSpec = {
  spec: {
    serviceAccountName: 'waypoint',
    volumes: [
      { name: 'istio-token', projected: { defaultMode: 420, sources: [{ serviceAccountToken: { audience: 'istio-ca', expirationSeconds: 43200, path: 'istio-token' } }] } },
      { name: 'istiod-ca-cert', configMap: { name: 'istio-ca-root-cert', defaultMode: 420 } },
    ],
    containers: [{
      name: 'istio-proxy',
      volumeMounts: [
        { name: 'istio-token', mountPath: '/var/run/secrets/tokens' },
        { name: 'istiod-ca-cert', mountPath: '/var/run/secrets/istio/' },
      ],
    }],
  },
};

const pod = (volumes: Volume[], mounts: VolumeMount[][]): PodVolumeSpec => ({
  spec: { volumes, containers: mounts.map((m, i) => ({ name: `c${i}`, volumeMounts: m })) },
});

describe('planMounts', () => {
  it('plans the waypoint pod: a pod-bound token and the root ConfigMap, linked at their mount paths', () => {
    const r = planMounts(WAYPOINT);
    expect(r).toEqual({
      ok: true,
      plan: {
        volumes: [
          { name: 'istio-token', kind: 'files', sources: [{ kind: 'token', serviceAccount: 'waypoint', audience: 'istio-ca', expirationSeconds: 43200, path: 'istio-token', mode: 0o644 }] },
          { name: 'istiod-ca-cert', kind: 'files', sources: [{ kind: 'configMap', name: 'istio-ca-root-cert', items: undefined, optional: false, mode: 0o644 }] },
        ],
        links: [
          { path: 'var/run/secrets/tokens', volume: 'istio-token' },
          { path: 'var/run/secrets/istio', volume: 'istiod-ca-cert' },
        ],
      },
    });
    if (r.ok) expect(referencedObjects(r.plan)).toEqual([{ kind: 'configMap', name: 'istio-ca-root-cert' }]);
  });

  it('plans kube-api-access (token, kube-root-ca.crt, namespace) with the default service account', () => {
    const r = planMounts(pod([{
      name: 'kube-api-access-x',
      projected: { defaultMode: 420, sources: [
        { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
      ] },
    }], [[{ name: 'kube-api-access-x', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }]]));
    expect(r.ok && r.plan.volumes[0]!.sources.map((s) => s.kind)).toEqual(['token', 'configMap', 'downwardAPI']);
    expect(r.ok && r.plan.volumes[0]!.sources[0]).toMatchObject({ serviceAccount: 'default', audience: '' });
  });

  it('shares one link when two containers mount the same volume at the same path', () => {
    const r = planMounts(pod([{ name: 'scratch', emptyDir: {} }], [[{ name: 'scratch', mountPath: '/tmp/x' }], [{ name: 'scratch', mountPath: '/tmp/x/' }]]));
    expect(r).toEqual({ ok: true, plan: { volumes: [{ name: 'scratch', kind: 'emptyDir', sources: [] }], links: [{ path: 'tmp/x', volume: 'scratch' }] } });
  });

  it('keeps a subPath on the link', () => {
    const r = planMounts(pod([{ name: 'cfg', configMap: { name: 'app' } }], [[{ name: 'cfg', mountPath: '/etc/app.yaml', subPath: 'app.yaml' }]]));
    expect(r.ok && r.plan.links).toEqual([{ path: 'etc/app.yaml', volume: 'cfg', subPath: 'app.yaml' }]);
  });

  it.each<[string, Volume[], VolumeMount[][], RegExp]>([
    ['a mount of an undeclared volume', [], [[{ name: 'nope', mountPath: '/x' }]], /container "c0": volumeMount "nope" at "\/x": no volume named "nope"/],
    ['a relative mountPath', [{ name: 'v', emptyDir: {} }], [[{ name: 'v', mountPath: 'x' }]], /mountPath must be absolute/],
    ['a mountPath escaping the root', [{ name: 'v', emptyDir: {} }], [[{ name: 'v', mountPath: '/../..' }]], /mountPath must name a directory below \//],
    ['the root itself', [{ name: 'v', emptyDir: {} }], [[{ name: 'v', mountPath: '/' }]], /mountPath must name a directory below \//],
    ['a subPath escaping its volume', [{ name: 'v', emptyDir: {} }], [[{ name: 'v', mountPath: '/x', subPath: '../etc' }]], /subPath must be a relative path inside the volume/],
    ['two volumes at one path', [{ name: 'a', emptyDir: {} }, { name: 'b', emptyDir: {} }], [[{ name: 'a', mountPath: '/x' }], [{ name: 'b', mountPath: '/x' }]], /volumeMount "b" at "\/x": another mount uses that path/],
    ['nested mounts', [{ name: 'a', emptyDir: {} }, { name: 'b', emptyDir: {} }], [[{ name: 'a', mountPath: '/x' }, { name: 'b', mountPath: '/x/y' }]], /mount \/x\/y is inside mount \/x/],
    ['a volume declared twice', [{ name: 'a', emptyDir: {} }, { name: 'a', emptyDir: {} }], [], /volume "a": declared twice/],
    ['an unsupported volume source', [{ name: 'h', nfs: { server: 'x', path: '/etc' } }], [], /volume "h": unsupported volume source \(nfs\)/],
    ['an unsupported projection', [{ name: 'p', projected: { sources: [{ clusterTrustBundle: {} }] } }], [], /volume "p": sources\[0\]: unsupported projection \(clusterTrustBundle\)/],
    ['a token path escaping the volume', [{ name: 'p', projected: { sources: [{ serviceAccountToken: { path: '../t' } }] } }], [], /serviceAccountToken.path: not a relative path/],
  ])('refuses %s', (_what, volumes, mounts, message) => {
    const r = planMounts(pod(volumes, mounts));
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.errors.join('\n')).toMatch(message);
  });
});

describe('renderVolume', () => {
  const token: Extract<FileSource, { kind: 'token' }> = { kind: 'token', serviceAccount: 'waypoint', audience: 'istio-ca', expirationSeconds: 43200, path: 'istio-token', mode: 0o600 };
  const inputs = (over: Partial<RenderInputs> = {}): RenderInputs => ({
    objects: new Map([
      ['configMap/istio-ca-root-cert', dataObject('configMap', { data: { 'root-cert.pem': 'PEM' } })],
      ['configMap/multi', dataObject('configMap', { data: { b: 'B', a: 'A' }, binaryData: { bin: Buffer.from([0, 1, 2]).toString('base64') } })],
      ['secret/creds', dataObject('secret', { data: { password: Buffer.from('hunter2').toString('base64') } })],
      ['configMap/gone', null],
    ]),
    tokens: new Map([[tokenSourceKey(token), 'eyJ.token']]),
    pod: { name: 'wp-1', namespace: 'app', uid: 'u-1', labels: { b: '2', a: 'x"y' }, annotations: { note: 'n' } },
    ...over,
  });
  const files = (v: VolumePlan, i = inputs()) => {
    const r = renderVolume(v, i);
    if (!r.ok) throw new Error(r.error);
    return r.files.map((f) => [f.path, f.data.toString('utf8'), f.mode.toString(8)]);
  };
  const vol = (...sources: FileSource[]): VolumePlan => ({ name: 'v', kind: 'files', sources });
  const cm = (name: string, extra: Partial<Extract<FileSource, { kind: 'configMap' }>> = {}): FileSource => ({ kind: 'configMap', name, optional: false, mode: 0o644, ...extra });

  it('writes the token and the root certificate where the waypoint reads them', () => {
    expect(files(vol(token))).toEqual([['istio-token', 'eyJ.token', '600']]);
    expect(files(vol(cm('istio-ca-root-cert')))).toEqual([['root-cert.pem', 'PEM', '644']]);
  });

  it('projects every key (binaryData decoded), or only the listed items under their paths and modes', () => {
    expect(files(vol(cm('multi')))).toEqual([['a', 'A', '644'], ['b', 'B', '644'], ['bin', '\u0000\u0001\u0002', '644']]);
    expect(files(vol(cm('multi', { items: [{ key: 'b', path: 'dir/bee.txt', mode: 0o400 }] })))).toEqual([['dir/bee.txt', 'B', '400']]);
  });

  it('decodes Secret data', () => {
    expect(files(vol({ kind: 'secret', name: 'creds', optional: false, mode: 0o640 }))).toEqual([['password', 'hunter2', '640']]);
  });

  it('writes downward-API labels, annotations, name and namespace in the API format', () => {
    expect(files(vol({ kind: 'downwardAPI', mode: 0o644, items: [
      { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
      { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
      { path: 'ns', fieldRef: { fieldPath: 'metadata.namespace' } },
      { path: 'one', fieldRef: { fieldPath: "metadata.labels['b']" } },
      { path: 'notes', fieldRef: { fieldPath: 'metadata.annotations' } },
    ] }))).toEqual([['labels', 'a="x\\"y"\nb="2"', '644'], ['name', 'wp-1', '644'], ['notes', 'note="n"', '644'], ['ns', 'app', '644'], ['one', '2', '644']]);
    expect(formatMap({})).toBe('');
  });

  it.each<[string, FileSource, RegExp]>([
    ['a missing ConfigMap', cm('gone'), /^MountVolume.SetUp failed for volume "v" : configmap "gone" not found$/],
    ['a ConfigMap not listed yet', cm('unknown'), /configmap "unknown" not fetched yet/],
    ['a missing key', cm('multi', { items: [{ key: 'zzz', path: 'z' }] }), /configmap "multi": references non-existent key "zzz"/],
    ['an item path escaping the volume', cm('multi', { items: [{ key: 'a', path: '../a' }] }), /invalid path "..\/a"/],
    ['a token not fetched', { ...token, audience: 'other' }, /no token yet for service account "waypoint"/],
    ['an unsupported downward field', { kind: 'downwardAPI', mode: 0o644, items: [{ path: 'ip', fieldRef: { fieldPath: 'status.podIP' } }] }, /downwardAPI item "ip": unsupported field/],
  ])('fails on %s', (_what, source, message) => {
    const r = renderVolume(vol(source), inputs());
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.error).toMatch(message);
  });

  it('skips optional sources and keys that are missing', () => {
    expect(files(vol(cm('gone', { optional: true }), cm('multi', { optional: true, items: [{ key: 'zzz', path: 'z' }, { key: 'a', path: 'a' }] })))).toEqual([['a', 'A', '644']]);
  });
});

describe('tokenRefreshAt', () => {
  it.each([
    ['at 80% of a 12 h token', 0, 43_200_000, 0, 34_560_000],
    ['at 80% of a 1 h token issued a while ago', 1_000_000, 4_600_000, 1_500_000, 3_880_000],
    ['no later than 24 h after issue for a long token', 0, 7 * 86_400_000, 0, 86_400_000],
    ['not sooner than 10 s from now when already due', 0, 600_000, 590_000, 600_000],
  ])('%s', (_what, issued, expires, now, want) => {
    expect(tokenRefreshAt(issued, expires, now)).toBe(want);
  });
});
