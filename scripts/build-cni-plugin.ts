// Builds the CNI plugin the node agent installs on each node: cni/plugin/main.ts and everything it
// imports (pino included) as one ESM file, build/cni-plugin/ambient-cni.mjs, so the node needs
// nothing of the agent's container but this file and a node binary (both copied by the agent).
// Run by `make cni-plugin` (a prerequisite of the targets that start agents) and by images/build.sh.
import { join } from 'node:path';
import { bundle } from './bundle.ts';

const root = join(import.meta.dirname, '..');
export const CNI_PLUGIN_BUNDLE = join(root, 'build/cni-plugin/ambient-cni.mjs');

await bundle(join(root, 'cni/plugin/main.ts'), CNI_PLUGIN_BUNDLE);
console.log(`built ${CNI_PLUGIN_BUNDLE}`);
