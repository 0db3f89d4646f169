// Builds the CNI plugin the node agent installs on each node: cni/plugin/main.ts and everything it
// imports (pino included) as one ESM file, build/cni-plugin/ambient-cni.mjs, so the node needs
// nothing of the agent's container but this file and a node binary (both copied by the agent).
// Deterministic: same sources, same bytes. Run by `make cni-plugin` (a prerequisite of the targets
// that start agents) and by images/build.sh.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
export const CNI_PLUGIN_BUNDLE = join(root, 'build/cni-plugin/ambient-cni.mjs');

mkdirSync(dirname(CNI_PLUGIN_BUNDLE), { recursive: true });
await build({
  entryPoints: [join(root, 'cni/plugin/main.ts')],
  outfile: CNI_PLUGIN_BUNDLE,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  legalComments: 'none',
  logLevel: 'warning',
  // CommonJS dependencies (pino) call require() for Node's built-ins.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
});
console.log(`built ${CNI_PLUGIN_BUNDLE}`);
