// A redirect operation written once, as a generator of commands: each `yield` is one tool run in
// the netns and evaluates to its stdout (a failure is thrown at the `yield`, so the operation can
// catch what it tolerates). runSync drives it with spawnSync for tests and one-shot tools; runAsync
// drives it with child processes on the event loop, for the node agent.
import { execInNetns, execInNetnsAsync, type CommandStep, type NetnsPath } from './exec.ts';

export type Program<T> = Generator<CommandStep, T, string>;

export function runSync<T>(netns: NetnsPath, program: Program<T>): T {
  let step = program.next();
  while (!step.done) {
    let out: string;
    try {
      out = execInNetns(netns, step.value.argv, step.value.stdin);
    } catch (err) {
      step = program.throw(err);
      continue;
    }
    step = program.next(out);
  }
  return step.value;
}

export async function runAsync<T>(netns: NetnsPath, program: Program<T>): Promise<T> {
  let step = program.next();
  while (!step.done) {
    let out: string;
    try {
      out = await execInNetnsAsync(netns, step.value.argv, step.value.stdin);
    } catch (err) {
      step = program.throw(err);
      continue;
    }
    step = program.next(out);
  }
  return step.value;
}

/** Runs each step in order, discarding output; the first failure stops the rest. */
export function* steps(list: readonly CommandStep[]): Program<void> {
  for (const s of list) yield s;
}
