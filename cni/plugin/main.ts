// Entry point of the `ambient-cni` executable (run through the launcher script in the CNI bin dir):
// stdin and environment in, the CNI result or error JSON on stdout, logs on stderr. Everything not
// needed on the common path (the agent client, pino) is imported only when used: this runs once per
// pod start.
import { readFileSync } from 'node:fs';
import { readEnrollmentStateFile } from '../shared/enrollment-state.ts';
import { ErrorCode, renderError } from './cni-spec.ts';
import { createPluginLog } from './log.ts';
import { runPlugin, type PluginRun } from './run.ts';

async function readStdin(): Promise<string> {
  try {
    return readFileSync(0, 'utf8');
  } catch (err) {
    // A non-blocking pipe cannot be read synchronously; read it as a stream instead.
    if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
}

async function main(): Promise<PluginRun> {
  const isDel = process.env.CNI_COMMAND === 'DEL';
  let stdin: string;
  try {
    stdin = await readStdin();
  } catch (err) {
    if (isDel) return { exitCode: 0, stdout: '' };
    return { exitCode: 1, stdout: renderError({ code: ErrorCode.ioFailure, msg: `stdin: read failed: ${(err as Error).message}` }) };
  }
  try {
    return await runPlugin(process.env, stdin, {
      readEnrollmentState: readEnrollmentStateFile,
      askAgent: async (plan) => (await import('./agent-client.ts')).postCmdAdd(plan.socket, plan.event, plan.timeoutMs),
      createLog: (level) =>
        createPluginLog(level, async (lvl) => (await import('../../lib/log/logger.ts')).createLogger({ component: 'ambient-cni', level: lvl, destination: process.stderr })),
    });
  } catch (err) {
    // A bug of ours. DEL still succeeds: failing it would wedge the pod's teardown.
    process.stderr.write(`ambient-cni: internal error: ${(err as Error).stack ?? String(err)}\n`);
    if (isDel) return { exitCode: 0, stdout: '' };
    return { exitCode: 1, stdout: renderError({ code: ErrorCode.internal, msg: `ambient-cni internal error: ${(err as Error).message}` }) };
  }
}

const run = await main();
// Exit once stdout is handed over, whatever handles might linger.
process.stdout.write(run.stdout, () => process.exit(run.exitCode));
