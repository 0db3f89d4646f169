// `e2e/lab/lab`: up [--nodes N] | down [--all] | status | kubectl ARGS... | ambientctl ARGS... |
// exec -n NS POD -- CMD ARGS... | mesh install|uninstall
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './config.ts';
import { down, execInteractive, kubectlArgs, LabError, requireLab, status, up } from './lab.ts';
import { installMesh, uninstallMesh } from './mesh-helm.ts';
import type { LabState } from './state.ts';

const USAGE = `usage: lab up [--nodes N] | down [--all] | status | kubectl ARGS... | ambientctl ARGS... | exec -n NS POD [-c CONTAINER] -- CMD [ARGS...] | mesh install|uninstall`;

/** ambientctl against the lab: its admin kubeconfig, and the ztunnels' admin endpoints when the mesh harness runs them. */
function ambientctlEnv(state: LabState): NodeJS.ProcessEnv {
  const admin = Object.entries(state.ztunnelAdminPorts ?? {}).map(([node, port]) => `${node}=http://127.0.0.1:${port}`).join(',');
  return {
    NODE_OPTIONS: '--disable-warning=ExperimentalWarning',
    ...process.env,
    KUBECONFIG: state.kubeconfig,
    ...(admin ? { AMBIENTCTL_ZTUNNEL_ADMIN: admin } : {}),
  };
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'up': {
      const i = rest.indexOf('--nodes');
      const nodes = i >= 0 ? Number(rest[i + 1]) : 2;
      if (!Number.isInteger(nodes) || nodes < 1 || nodes > 16) {
        console.error('lab up: --nodes takes a number from 1 to 16');
        return 2;
      }
      const s = await up({ nodes, log: (l) => console.error(l) });
      console.log(`lab ${s.runId} is up with ${s.nodes.length} nodes.\n  e2e/lab/lab kubectl get nodes\n  e2e/lab/lab down`);
      return 0;
    }
    case 'down': {
      const left = await down({ all: rest.includes('--all') });
      const n = left.processes.length + left.netns.length + left.mounts.length;
      if (n) {
        console.error(`lab down: left behind: ${JSON.stringify(left)}`);
        return 1;
      }
      console.log('lab is down; nothing left behind');
      return 0;
    }
    case 'status':
      console.log(status());
      return 0;
    case 'kubectl': {
      const [file, ...args] = kubectlArgs(requireLab(), rest);
      return await new Promise<number>((resolve) => {
        const child = spawn(file!, args, { stdio: 'inherit' });
        child.on('exit', (code) => resolve(code ?? 1));
      });
    }
    case 'ambientctl': {
      const state = requireLab();
      return await new Promise<number>((resolve) => {
        const child = spawn(process.execPath, [join(REPO_ROOT, 'cli/src/ambientctl.ts'), ...rest], { stdio: 'inherit', env: ambientctlEnv(state) });
        child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
        child.on('error', () => resolve(127));
      });
    }
    case 'exec': {
      const dd = rest.indexOf('--');
      const head = dd >= 0 ? rest.slice(0, dd) : rest;
      const command = dd >= 0 ? rest.slice(dd + 1) : [];
      let ns = 'default';
      let container: string | undefined;
      const positional: string[] = [];
      for (let i = 0; i < head.length; i++) {
        if (head[i] === '-n' || head[i] === '--namespace') ns = head[++i] ?? ns;
        else if (head[i] === '-c' || head[i] === '--container') container = head[++i];
        else positional.push(head[i]!);
      }
      const pod = positional[0];
      if (!pod || !command.length) {
        console.error('usage: lab exec -n NS POD [-c CONTAINER] -- CMD [ARGS...]');
        return 2;
      }
      return await execInteractive(ns, pod, command, container ? { container } : {});
    }
    case 'mesh': {
      // The four Helm releases of charts/ with e2e/lab/helm-values (see mesh-helm.ts).
      const state = requireLab();
      if (rest[0] === 'install') {
        await installMesh(state, { log: (l) => console.error(l) });
        console.log('the mesh is installed and Ready on every node');
        return 0;
      }
      if (rest[0] === 'uninstall') {
        await uninstallMesh(state, { log: (l) => console.error(l) });
        console.log('the mesh is uninstalled');
        return 0;
      }
      console.error('usage: lab mesh install|uninstall');
      return 2;
    }
    default:
      console.error(USAGE);
      return cmd === undefined || cmd === '-h' || cmd === '--help' ? 0 : 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err instanceof LabError ? `lab: ${err.message}` : `lab: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
