// `e2e/lab/lab`: up [--nodes N] | down [--all] | status | kubectl ARGS... | exec -n NS POD -- CMD ARGS...
import { spawn } from 'node:child_process';
import { down, execInteractive, kubectlArgs, LabError, requireLab, status, up } from './lab.ts';

const USAGE = `usage: lab up [--nodes N] | down [--all] | status | kubectl ARGS... | exec -n NS POD -- CMD [ARGS...]`;

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
    case 'exec': {
      const dd = rest.indexOf('--');
      const head = dd >= 0 ? rest.slice(0, dd) : rest;
      const command = dd >= 0 ? rest.slice(dd + 1) : [];
      let ns = 'default';
      const positional: string[] = [];
      for (let i = 0; i < head.length; i++) {
        if (head[i] === '-n' || head[i] === '--namespace') ns = head[++i] ?? ns;
        else positional.push(head[i]!);
      }
      const pod = positional[0];
      if (!pod || !command.length) {
        console.error('usage: lab exec -n NS POD -- CMD [ARGS...]');
        return 2;
      }
      return await execInteractive(ns, pod, command);
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
