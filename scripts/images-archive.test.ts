import { describe, expect, it } from 'vitest';
import { archiveIndex, CONTAINERD_NAME, findTagged, REF_NAME } from './images-archive.ts';

const manifest = (tag: string, digest: string) => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest,
  size: 1000,
  annotations: { [REF_NAME]: tag },
});

describe('images-archive', () => {
  const index = { schemaVersion: 2 as const, manifests: [manifest('controller', 'sha256:aa'), manifest('cni', 'sha256:bb')] };

  it('finds the manifest by tag', () => {
    expect(findTagged(index, 'cni').digest).toBe('sha256:bb');
  });

  it('names the tags the layout has when the tag is missing', () => {
    expect(() => findTagged(index, 'ztunnel')).toThrow('no image tagged "ztunnel" in the layout (tags: controller, cni)');
  });

  it('writes a one-image index naming the image by tag and by full reference, dropping the layout tag', () => {
    const out = archiveIndex(findTagged(index, 'cni'), '0.1.0', 'ghcr.io/ambient-mesh/cni:0.1.0');
    expect(out).toEqual({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: 'sha256:bb',
        size: 1000,
        annotations: { [REF_NAME]: '0.1.0', [CONTAINERD_NAME]: 'ghcr.io/ambient-mesh/cni:0.1.0' },
      }],
    });
  });
});
