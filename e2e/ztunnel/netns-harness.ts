// Shared by the root netns suites of e2e/ztunnel: the root check, running a command, and a handle on
// a named network namespace.
import { spawnSync } from 'node:child_process';

export function requireRoot(suite: string): void {
  if (process.getuid?.() !== 0) {
    throw new Error(`${suite} must run as root: it creates network namespaces, veth pairs and netfilter rules`);
  }
}

export function run(argv: string[], stdin?: string): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { input: stdin ?? '', encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited with ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

export interface Ns {
  name: string;
  path: string;
  sh(argv: string[]): string;
}

export function netnsHandle(name: string): Ns {
  const path = `/run/netns/${name}`;
  return { name, path, sh: (argv) => run(['nsenter', `--net=${path}`, '--', ...argv]) };
}
