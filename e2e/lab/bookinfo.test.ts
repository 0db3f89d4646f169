// The Bookinfo manifests parse as the objects the sample needs, with the images in the lab
// catalogue and the callers wired to the Service addresses. No root needed.
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { bookinfoManifest } from './bookinfo.ts';
import { resolveImage } from './images/catalogue.ts';

interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: {
    serviceAccountName?: string;
    selector?: Record<string, unknown>;
    ports?: { name: string; port: number }[];
    template?: { metadata: { labels: Record<string, string> }; spec: { serviceAccountName: string; containers: { image: string; env?: { name: string; value: string }[] }[] } };
    containers?: { image: string }[];
  };
}

const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as Obj);

describe('bookinfoManifest', () => {
  const objs = docs(bookinfoManifest('bookinfo', { details: '10.96.0.11', reviews: '10.96.0.12', ratings: '10.96.0.13' }, {
    namespaceLabels: { 'istio.io/dataplane-mode': 'ambient' },
    env: { 'ratings-v1': { FAIL_FIRST: '3' } },
  }));
  const byKind = (k: string) => objs.filter((o) => o.kind === k);

  it('has the namespace (labelled), the accounts, the Services on 9080/http, the Deployments and sleep', () => {
    expect(byKind('Namespace')).toEqual([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bookinfo', labels: { 'istio.io/dataplane-mode': 'ambient' } } }]);
    expect(byKind('ServiceAccount').map((o) => o.metadata.name)).toEqual(['bookinfo-details', 'bookinfo-ratings', 'bookinfo-reviews', 'bookinfo-productpage', 'sleep']);
    expect(byKind('Service').map((o) => [o.metadata.name, o.spec?.ports, o.spec?.selector])).toEqual(
      ['details', 'ratings', 'reviews', 'productpage'].map((s) => [s, [{ name: 'http', port: 9080, targetPort: 9080 }], { app: s }]),
    );
    expect(byKind('Deployment').map((o) => o.metadata.name)).toEqual(['details-v1', 'ratings-v1', 'reviews-v1', 'reviews-v2', 'reviews-v3', 'productpage-v1']);
    expect(byKind('Pod').map((o) => [o.metadata.name, o.spec?.containers?.[0]?.image])).toEqual([['sleep', 'lab/sleep']]);
    expect(objs.every((o) => o.kind === 'Namespace' || o.metadata.namespace === 'bookinfo')).toBe(true);
  });

  it('labels pods app/version, runs them as bookinfo-<svc>, with catalogue images', () => {
    for (const d of byKind('Deployment')) {
      const t = d.spec!.template!;
      const [app, version] = d.metadata.name.split('-');
      expect(t.metadata.labels).toEqual({ app, version });
      expect(d.spec!.selector).toEqual({ matchLabels: { app, version } });
      expect(t.spec.serviceAccountName).toBe(`bookinfo-${app}`);
      expect(resolveImage(t.spec.containers[0]!.image)).not.toHaveProperty('error');
    }
  });

  it('wires productpage → details/reviews and reviews → ratings by address, and adds extra env', () => {
    const env = (name: string) => Object.fromEntries((byKind('Deployment').find((d) => d.metadata.name === name)!.spec!.template!.spec.containers[0]!.env ?? []).map((e) => [e.name, e.value]));
    expect(env('productpage-v1')).toEqual({ DETAILS_HOSTNAME: '10.96.0.11', REVIEWS_HOSTNAME: '10.96.0.12' });
    for (const v of ['v1', 'v2', 'v3']) expect(env(`reviews-${v}`)).toEqual({ RATINGS_HOSTNAME: '10.96.0.13' });
    expect(env('ratings-v1')).toEqual({ FAIL_FIRST: '3' });
    expect(env('details-v1')).toEqual({});
  });
});
