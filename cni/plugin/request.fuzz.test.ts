// Fuzzing one CNI plugin invocation end to end (in-process, fake I/O): CNI_* environment and the
// network config on stdin, from arbitrary text, JSON values and mutations of real runtime inputs,
// plus arbitrary agent outcomes and enrollment state files. The plugin never throws; it exits 0
// with nothing, a VERSION answer or prevResult passed through, or 1 with a spec error result
// (well-known code, message); every refused request is logged once at error level (the plugin is
// a one-shot executable without metrics: the error result and that line are its count); DEL never fails.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzBudget, fuzzParams, textInput } from '../../lib/fuzz/fuzz.ts';
import { parseEnrollmentState, renderEnrollmentState, type EnrollmentStateRead } from '../shared/enrollment-state.ts';
import { ErrorCode, isSupportedVersion } from './cni-spec.ts';
import type { AgentOutcome } from './decide.ts';
import type { PluginLog } from './log.ts';
import { runPlugin, type PluginIo } from './run.ts';

const budget = fuzzBudget();

const prevResult = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01', sandbox: '/run/netns/p' }],
  ips: [{ address: '10.250.0.5/24', gateway: '10.250.0.1', interface: 0 }, { address: 'fd00::5/64', interface: 0 }],
};
const STDIN_SEEDS = [
  JSON.stringify({ cniVersion: '1.0.0', name: 'pods', type: 'ambient-cni', prevResult }),
  JSON.stringify({ cniVersion: '0.4.0', name: 'pods', type: 'ambient-cni', timeoutSeconds: 5, logLevel: 'debug', excludeNamespaces: ['kube-system'], pluginEventSocket: '/run/a.sock', prevResult }),
  JSON.stringify({ cniVersion: '1.1.0', name: 'pods', type: 'ambient-cni' }),
];
const ARGS_SEEDS = ['IgnoreUnknown=1;K8S_POD_NAMESPACE=app;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=c0ffee;K8S_POD_UID=u-1', 'K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=dns'];

const WELL_KNOWN_CODES: readonly number[] = Object.values(ErrorCode);

const envValue = (seeds: string[]) => fc.option(fc.oneof(fc.constantFrom(...seeds), textInput(seeds, 40)), { nil: undefined });
const env = fc.record({
  CNI_COMMAND: envValue(['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC']),
  CNI_CONTAINERID: envValue(['c0ffee', 'a1b2c3d4e5f6']),
  CNI_NETNS: envValue(['/run/netns/p', '/proc/1/ns/net']),
  CNI_IFNAME: envValue(['eth0', 'net1']),
  CNI_ARGS: envValue(ARGS_SEEDS),
  CNI_PATH: envValue(['/opt/cni/bin']),
});

const stdin = fc.oneof(
  textInput(STDIN_SEEDS, 600),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  // Real configs with one field replaced by any JSON value.
  fc
    .tuple(fc.constantFrom(...STDIN_SEEDS), fc.constantFrom('cniVersion', 'name', 'type', 'prevResult', 'ips', 'timeoutSeconds', 'logLevel', 'excludeNamespaces', 'pluginEventSocket', 'enrollmentStateFile'), fc.jsonValue({ maxDepth: 2 }))
    .map(([seed, key, value]) => {
      const o = JSON.parse(seed) as Record<string, unknown>;
      if (key === 'ips') o.prevResult = { ...prevResult, ips: value };
      else o[key] = value;
      return JSON.stringify(o);
    }),
);

const outcome: fc.Arbitrary<AgentOutcome> = fc.oneof(
  fc.constant<AgentOutcome>({ kind: 'answered', answer: { captured: true } }),
  fc.string().map((reason): AgentOutcome => ({ kind: 'answered', answer: { captured: false, reason } })),
  fc.string().map((error): AgentOutcome => ({ kind: 'unreachable', error })),
  fc.nat().map((afterMs): AgentOutcome => ({ kind: 'timeout', afterMs })),
  fc.tuple(fc.integer({ min: 100, max: 599 }), fc.string()).map(([status, error]): AgentOutcome => ({ kind: 'rejected', status, error })),
  fc.string().map((error): AgentOutcome => ({ kind: 'invalid', error })),
);

const stateText = textInput([renderEnrollmentState(['app', 'web']), renderEnrollmentState([])], 200);

function fakeIo(state: EnrollmentStateRead, answer: AgentOutcome, lines: { level: string; msg: string }[]): PluginIo {
  const log: PluginLog = {
    debug: (_f, msg) => void lines.push({ level: 'debug', msg }),
    info: (_f, msg) => void lines.push({ level: 'info', msg }),
    warn: (_f, msg) => void lines.push({ level: 'warn', msg }),
    error: (_f, msg) => void lines.push({ level: 'error', msg }),
    flush: async () => {},
  };
  return { readEnrollmentState: () => state, askAgent: async () => answer, createLog: () => log };
}

describe('CNI plugin invocation under fuzzing', () => {
  it('answers every environment and stdin with a result or a spec error, logged, never throwing', async () => {
    await fc.assert(
      fc.asyncProperty(env, stdin, stateText, outcome, async (e, input, stateFile, answer) => {
        const parsedState = parseEnrollmentState(stateFile);
        if (!parsedState.ok) expect(parsedState.error).toMatch(/^state/);
        const state: EnrollmentStateRead = parsedState.ok ? { kind: 'ok', state: parsedState.state } : { kind: 'invalid', path: '/s', error: parsedState.error };
        const lines: { level: string; msg: string }[] = [];
        const run = await runPlugin(e, input, fakeIo(state, answer, lines));
        if (e.CNI_COMMAND === 'DEL') expect(run.exitCode).toBe(0);
        if (run.exitCode === 1) {
          const body = JSON.parse(run.stdout) as { cniVersion: string; code: number; msg: string };
          expect(WELL_KNOWN_CODES).toContain(body.code);
          expect(body.code).not.toBe(ErrorCode.internal);
          expect(body.msg.length).toBeGreaterThan(0);
          expect(isSupportedVersion(body.cniVersion)).toBe(true);
          expect(lines.filter((l) => l.level === 'error')).toHaveLength(1);
          return;
        }
        expect(lines.filter((l) => l.level === 'error')).toEqual([]);
        if (run.stdout === '') return;
        const out = JSON.parse(run.stdout) as Record<string, unknown>;
        if (e.CNI_COMMAND === 'ADD') {
          // ADD passes the chain's result on unchanged, under the config's version.
          const conf = JSON.parse(input) as { cniVersion: string; prevResult: Record<string, unknown> };
          expect(out).toEqual({ ...conf.prevResult, cniVersion: conf.cniVersion });
        } else {
          expect(e.CNI_COMMAND).toBe('VERSION');
          expect(isSupportedVersion(out.cniVersion as string)).toBe(true);
        }
      }),
      fuzzParams(budget),
    );
  }, budget.testTimeoutMs);
});
