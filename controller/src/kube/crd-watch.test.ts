import type { V1CustomResourceDefinition } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { crdServes } from './crd-watch.ts';

const kind = { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gateways' };
const crd = (over: { group?: string; plural?: string; served?: boolean; established?: string } = {}): V1CustomResourceDefinition => ({
  metadata: { name: 'gateways.gateway.networking.k8s.io' },
  spec: {
    group: over.group ?? kind.group,
    names: { plural: over.plural ?? kind.plural, kind: 'Gateway' },
    scope: 'Namespaced',
    versions: [{ name: 'v1', served: over.served ?? true, storage: true }],
  },
  status: { conditions: over.established === undefined ? [{ type: 'Established', status: 'True' }] : [{ type: 'Established', status: over.established }], acceptedNames: { kind: 'Gateway', plural: 'gateways' }, storedVersions: ['v1'] },
});

describe('crdServes', () => {
  it.each([
    ['an Established CRD of the kind', crd(), true],
    ['not Established yet', crd({ established: 'False' }), false],
    ['the version not served', crd({ served: false }), false],
    ['another plural', crd({ plural: 'httproutes' }), false],
    ['another group', crd({ group: 'networking.istio.io' }), false],
  ] as const)('%s', (_n, c, want) => {
    expect(crdServes(c, kind)).toBe(want);
  });
});
