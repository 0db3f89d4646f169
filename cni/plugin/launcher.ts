// The executable the node agent installs as `<CNI bin dir>/ambient-cni`: a /bin/sh script that
// execs an absolute node binary on the absolute path of the plugin (in a node: the binary and the
// one-file bundle the agent copied into `<CNI bin dir>/ambient-cni.d/`). The runtime gives plugins a bare
// environment, so nothing may come from PATH. Start-up is the plugin's main cost: the only extras
// are a compile cache (skips re-parsing and type-stripping our TypeScript on every pod start) and
// silencing Node 22's type-stripping warning on stderr.
import { join } from 'node:path';
import { PLUGIN_TYPE } from '../shared/plugin-event.ts';

export interface LauncherOptions {
  /** Absolute path of the node binary (the agent passes its own `process.execPath`). */
  nodePath: string;
  /** Absolute path of the plugin: the bundle, or cni/plugin/main.ts in this tree. */
  mainPath: string;
  /** Directory for Node's compile cache (NODE_COMPILE_CACHE); omitted: no cache. Must be absolute. */
  compileCacheDir?: string;
}

/** Where main.ts sits next to this module (the plugin run from this tree, e.g. by tests and benchmarks). */
export const PLUGIN_MAIN_PATH = new URL('./main.ts', import.meta.url).pathname;

/** The bundle's name in `<binDir>/ambient-cni.d/`, beside the copied node binary. */
export const PLUGIN_BUNDLE_NAME = 'plugin.mjs';

/** Node flags of the plugin process: only what changes behaviour we need, nothing that slows start-up. */
export const PLUGIN_NODE_FLAGS: readonly string[] = ['--disable-warning=ExperimentalWarning'];

/** POSIX shell single-quoting: safe for any path. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

export function renderLauncher(opts: LauncherOptions): string {
  for (const [key, value] of Object.entries(opts)) {
    if (value !== undefined && !String(value).startsWith('/')) throw new TypeError(`renderLauncher: ${key} must be an absolute path, got ${JSON.stringify(value)}`);
  }
  const cache = opts.compileCacheDir ? `NODE_COMPILE_CACHE=${shellQuote(opts.compileCacheDir)} ` : '';
  const argv = [shellQuote(opts.nodePath), ...PLUGIN_NODE_FLAGS, shellQuote(opts.mainPath)].join(' ');
  return [
    '#!/bin/sh',
    `# ${PLUGIN_TYPE}: chained CNI plugin of ambient-mesh. Written by the node agent; edits are overwritten.`,
    `${cache}exec ${argv} "$@"`,
    '',
  ].join('\n');
}

/** The launcher's file name in a CNI bin dir (the conflist entry's `type`). */
export function launcherPath(binDir: string): string {
  return join(binDir, PLUGIN_TYPE);
}
