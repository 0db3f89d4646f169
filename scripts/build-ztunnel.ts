// Builds ztunnel as one ESM file, build/ztunnel/ztunnel.mjs: no TypeScript stripping and no module
// resolution of a few hundred files at start, which saves ztunnel about 30 MiB of resident memory
// and a second of start-up (bench/README.md). It runs from inside a tree that holds lib/ and
// node_modules (this repository, or the image's /app): the .proto files, the netns addon and the
// npm packages that read their own files are found there, by each module's own path.
import { join } from 'node:path';
import { bundle } from './bundle.ts';

const root = join(import.meta.dirname, '..');
export const ZTUNNEL_BUNDLE = join(root, 'build/ztunnel/ztunnel.mjs');

await bundle(join(root, 'ztunnel/src/main.ts'), ZTUNNEL_BUNDLE, { sourceFileUrls: true });
console.log(`built ${ZTUNNEL_BUNDLE}`);
