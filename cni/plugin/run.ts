// One plugin invocation from input to output: parse, decide, do the I/O the plan asks for (state
// file read, agent exchange), and produce what goes to stdout with the exit code. The I/O comes in
// through `PluginIo`, so tests run the whole flow in-process against a real socket or fakes.
import type { EnrollmentStateRead } from '../shared/enrollment-state.ts';
import { renderError, renderVersion, type CniFailure } from './cni-spec.ts';
import { DEFAULT_PLUGIN_CONFIG, type PluginLogLevel } from './config.ts';
import { planAdd, settleAdd, type AddPlan, type AddRequest, type AgentOutcome } from './decide.ts';
import type { PluginLog } from './log.ts';
import { parseRequest } from './request.ts';
import { renderPassThrough } from './result.ts';

export interface PluginIo {
  readEnrollmentState(path: string): EnrollmentStateRead;
  askAgent(plan: AddPlan & { kind: 'ask-agent' }): Promise<AgentOutcome>;
  createLog(level: PluginLogLevel): PluginLog;
}

export interface PluginRun {
  exitCode: 0 | 1;
  /** Exactly what the runtime reads: a result, a VERSION answer, an error result, or nothing. */
  stdout: string;
}

const ok = (stdout = ''): PluginRun => ({ exitCode: 0, stdout });

export async function runPlugin(env: Readonly<Record<string, string | undefined>>, stdin: string, io: PluginIo): Promise<PluginRun> {
  const parsed = parseRequest(env, stdin);
  if (!parsed.ok) {
    const log = io.createLog(DEFAULT_PLUGIN_CONFIG.logLevel);
    log.error({ command: env.CNI_COMMAND ?? '', containerId: env.CNI_CONTAINERID ?? '', code: parsed.failure.code, error: parsed.failure.msg }, 'rejected CNI request');
    await log.flush();
    return { exitCode: 1, stdout: renderError(parsed.failure, parsed.cniVersion) };
  }
  const req = parsed.request;
  switch (req.command) {
    case 'VERSION':
      return ok(renderVersion(req.cniVersion));
    case 'STATUS':
    case 'GC':
    case 'CHECK':
      return ok();
    case 'DEL': {
      // Nothing of ours to undo: the agent learns of deleted pods from the apiserver. DEL never fails.
      if (req.problems.length) {
        const log = io.createLog(req.logLevel);
        log.warn({ command: 'DEL', containerId: req.containerId, problems: req.problems }, 'odd DEL request; succeeding anyway');
        await log.flush();
      }
      return ok();
    }
    case 'ADD':
      return add(req, io);
  }
}

async function add(req: AddRequest, io: PluginIo): Promise<PluginRun> {
  const log = io.createLog(req.config.plugin.logLevel);
  const pod = req.runtime.pod;
  const fields = { command: 'ADD', containerId: req.runtime.containerId, ...(pod ? { pod: `${pod.namespace}/${pod.name}` } : {}) };
  const passThrough = (): PluginRun => ok(renderPassThrough(req.prevResult, req.config.cniVersion));

  const plan = planAdd(req, io.readEnrollmentState(req.config.plugin.enrollmentStateFile));
  if (plan.kind === 'pass-through') {
    if (plan.warning) log.warn(fields, plan.warning);
    log.debug({ ...fields, reason: plan.reason }, 'passing through');
    await log.flush();
    return passThrough();
  }

  const started = performance.now();
  log.debug({ ...fields, socket: plan.socket }, 'ambient namespace: asking the node agent');
  const outcome = await io.askAgent(plan);
  const settled = settleAdd(plan, outcome);
  const ms = Math.round(performance.now() - started);
  if (settled.ok) {
    // Debug, not info: the agent logs the capture itself, and loading the logger would add to
    // every ambient pod start.
    log.debug({ ...fields, captured: settled.captured, reason: settled.reason, ms }, settled.captured ? 'pod captured' : 'pod not captured');
    await log.flush();
    return passThrough();
  }
  log.error({ ...fields, code: settled.failure.code, error: settled.failure.msg, ms }, 'ADD failed');
  await log.flush();
  return fail(settled.failure, req.config.cniVersion);
}

const fail = (failure: CniFailure, cniVersion: string): PluginRun => ({ exitCode: 1, stdout: renderError(failure, cniVersion) });
