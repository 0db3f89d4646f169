// One image of the shared OCI layout (build/images/oci) written out as an oci-archive: a tar of an
// OCI image layout holding only that image's blobs, with an index.json naming it twice, by tag
// (`org.opencontainers.image.ref.name`, what skopeo and umoci select with `archive.tar:<tag>`) and by
// full reference (`io.containerd.image.name`, what `ctr images import` names the image). The tar is
// reproducible: sorted entries, one mtime, root-owned. Called by images/build.sh.
import { spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: unknown;
}

interface Index {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

interface Manifest {
  config: Descriptor;
  layers: Descriptor[];
}

export const REF_NAME = 'org.opencontainers.image.ref.name';
export const CONTAINERD_NAME = 'io.containerd.image.name';

/** Pure: the descriptor the layout's index tags `tag`, or an error naming the tags it has. */
export function findTagged(index: Index, tag: string): Descriptor {
  const found = index.manifests.find((m) => m.annotations?.[REF_NAME] === tag);
  if (found) return found;
  const tags = index.manifests.map((m) => m.annotations?.[REF_NAME]).filter(Boolean);
  throw new Error(`no image tagged ${JSON.stringify(tag)} in the layout (tags: ${tags.join(', ') || 'none'})`);
}

/** Pure: the index.json of a single-image archive. */
export function archiveIndex(manifest: Descriptor, refName: string, imageName: string): Index {
  const { annotations: _old, ...rest } = manifest;
  return {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ ...rest, annotations: { [REF_NAME]: refName, [CONTAINERD_NAME]: imageName } }],
  };
}

function blobPath(layout: string, digest: string): string {
  const m = /^(sha256|sha512):([0-9a-f]+)$/.exec(digest);
  if (!m) throw new Error(`unsupported digest ${digest}`);
  return join(layout, 'blobs', m[1]!, m[2]!);
}

function main(): void {
  const { values } = parseArgs({
    options: {
      layout: { type: 'string' },
      tag: { type: 'string' },
      'ref-name': { type: 'string' },
      'image-name': { type: 'string' },
      mtime: { type: 'string', default: '0' },
      out: { type: 'string' },
    },
  });
  const { layout, tag, out } = values;
  const refName = values['ref-name'];
  const imageName = values['image-name'];
  if (!layout || !tag || !out || !refName || !imageName) {
    process.stderr.write('usage: images-archive.ts --layout DIR --tag TAG --ref-name NAME --image-name REF [--mtime EPOCH] --out FILE.tar\n');
    process.exit(2);
  }
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as Index;
  const desc = findTagged(index, tag);
  const manifest = JSON.parse(readFileSync(blobPath(layout, desc.digest), 'utf8')) as Manifest;
  const digests = [desc.digest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)];

  mkdirSync(dirname(out), { recursive: true });
  const stage = mkdtempSync(`${out}.stage-`);
  try {
    writeFileSync(join(stage, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(join(stage, 'index.json'), JSON.stringify(archiveIndex(desc, refName, imageName)));
    for (const d of new Set(digests)) {
      const to = blobPath(stage, d);
      mkdirSync(dirname(to), { recursive: true });
      linkSync(blobPath(layout, d), to);
    }
    const tmp = `${out}.tmp`;
    const r = spawnSync('tar', ['--create', '--file', tmp, '--directory', stage, '--sort=name', '--format=pax',
      '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
      `--mtime=@${values.mtime}`, '--owner=0', '--group=0', '--numeric-owner', '--mode=u+rwX,go+rX,go-w',
      'oci-layout', 'index.json', 'blobs'], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`tar failed (${r.status ?? r.signal})`);
    renameSync(tmp, out);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
