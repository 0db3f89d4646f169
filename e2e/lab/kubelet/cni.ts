// Runs a node's CNI chain the way a container runtime does (CNI spec 1.0): the first conflist in the
// node's conf dir, each plugin exec'd in the node netns with CNI_* env and its config (plus prevResult)
// on stdin; DEL runs the chain in reverse.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inNetns, runAsync } from '../exec.ts';

export class CniError extends Error {
  readonly code = 'LAB_CNI_ERROR';
  readonly plugin: string;
  readonly cniCode: number | undefined;
  constructor(plugin: string, cniCode: number | undefined, message: string) {
    super(message);
    this.plugin = plugin;
    this.cniCode = cniCode;
  }
}

interface Conflist {
  cniVersion: string;
  name: string;
  plugins: ({ type: string } & Record<string, unknown>)[];
}

export interface CniRuntimeArgs {
  containerId: string;
  netnsPath: string;
  ifName: string;
  /** K8S_POD_NAMESPACE etc., as CNI_ARGS. */
  args: Record<string, string>;
}

export interface CniResult {
  cniVersion?: string;
  ips?: { address: string; gateway?: string; interface?: number }[];
  [k: string]: unknown;
}

export function loadConflist(confDir: string): Conflist {
  const files = readdirSync(confDir).filter((f) => f.endsWith('.conflist')).sort();
  const first = files[0];
  if (!first) throw new CniError('-', undefined, `no .conflist in ${confDir}`);
  const parsed = JSON.parse(readFileSync(join(confDir, first), 'utf8')) as Conflist;
  if (!Array.isArray(parsed.plugins) || !parsed.plugins.length) throw new CniError('-', undefined, `${first}: no plugins`);
  return parsed;
}

async function invoke(
  command: 'ADD' | 'DEL' | 'CHECK',
  plugin: Conflist['plugins'][number],
  list: Conflist,
  rt: CniRuntimeArgs,
  env: { nodeNetns: string; binDirs: string[] },
  prevResult: CniResult | undefined,
): Promise<CniResult | undefined> {
  const conf = { ...plugin, cniVersion: list.cniVersion, name: list.name, ...(prevResult ? { prevResult } : {}) };
  const binary = env.binDirs.map((d) => join(d, plugin.type)).find((p) => existsSync(p));
  if (!binary) throw new CniError(plugin.type, undefined, `CNI plugin ${plugin.type} not found in ${env.binDirs.join(':')}`);
  const res = await runAsync(inNetns(env.nodeNetns, [binary]), {
    input: JSON.stringify(conf),
    env: {
      PATH: process.env.PATH,
      CNI_COMMAND: command,
      CNI_CONTAINERID: rt.containerId,
      CNI_NETNS: rt.netnsPath,
      CNI_IFNAME: rt.ifName,
      CNI_ARGS: Object.entries(rt.args).map(([k, v]) => `${k}=${v}`).join(';'),
      CNI_PATH: env.binDirs.join(':'),
    },
    allowFail: true,
    timeoutMs: 60_000,
  });
  if (res.status !== 0) {
    let msg = res.stderr.trim() || res.stdout.trim();
    let code: number | undefined;
    try {
      const e = JSON.parse(res.stdout) as { code?: number; msg?: string; details?: string };
      code = e.code;
      msg = [e.msg, e.details].filter(Boolean).join(': ');
    } catch {
      /* not CNI error JSON: keep raw output */
    }
    throw new CniError(plugin.type, code, `CNI ${command} ${plugin.type} failed${code !== undefined ? ` (code ${code})` : ''}: ${msg}`);
  }
  if (command !== 'ADD') return undefined;
  return JSON.parse(res.stdout) as CniResult;
}

export async function cniAdd(list: Conflist, rt: CniRuntimeArgs, env: { nodeNetns: string; binDirs: string[] }): Promise<CniResult> {
  let prev: CniResult | undefined;
  for (const plugin of list.plugins) prev = await invoke('ADD', plugin, list, rt, env, prev);
  if (!prev) throw new CniError('-', undefined, 'CNI chain returned no result');
  return prev;
}

/** DEL in reverse order; keeps going past failures (a runtime must release what it can) and reports them. */
export async function cniDel(list: Conflist, rt: CniRuntimeArgs, env: { nodeNetns: string; binDirs: string[] }): Promise<Error[]> {
  const errors: Error[] = [];
  for (const plugin of [...list.plugins].reverse()) {
    try {
      await invoke('DEL', plugin, list, rt, env, undefined);
    } catch (err) {
      errors.push(err as Error);
    }
  }
  return errors;
}
