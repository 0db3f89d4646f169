// The event-loop drivers of lib/redirect: a program's failures reach it at its `yield` (so tolerated
// ones are caught there), and the async twins install the same rules as the sync ones while the
// event loop keeps running (the node agent serves ZDS and its informers meanwhile).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createThrowawayNetns, isRoot, ROOT_REASON, type ThrowawayNetns } from '../netns/throwaway-netns.ts';
import { applyInpodRulesAsync, checkInpodRules, RedirectError, removeInpodRulesAsync } from './index.ts';
import { execInNetnsAsync } from './exec.ts';
import { runAsync, runSync, type Program } from './program.ts';

describe('execInNetnsAsync', () => {
  it('refuses an empty netns path with INVALID_OPTIONS', async () => {
    await expect(execInNetnsAsync({ path: '' }, ['true'])).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });
});

describe.skipIf(!isRoot)(`async rule application (${ROOT_REASON})`, () => {
  let pod: ThrowawayNetns;
  beforeAll(() => {
    pod = createThrowawayNetns();
  });
  afterAll(() => pod?.remove());

  it('runs a tool with stdin and returns its stdout; a non-zero exit is COMMAND_FAILED with stderr', async () => {
    expect(await execInNetnsAsync(pod, ['cat'], 'through stdin\n')).toBe('through stdin\n');
    const err = await execInNetnsAsync(pod, ['sh', '-c', 'echo nope >&2; exit 3']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RedirectError);
    expect(err).toMatchObject({ code: 'COMMAND_FAILED', status: 3, stderr: 'nope' });
  });

  it('hands a failure to the program at its yield, in both drivers', async () => {
    function* tolerant(): Program<string> {
      let first: string;
      try {
        first = yield { argv: ['false'] };
      } catch (err) {
        first = `caught ${(err as RedirectError).code}`;
      }
      const second = yield { argv: ['echo', 'next'] };
      return `${first}, ${second.trim()}`;
    }
    expect(runSync(pod, tolerant())).toBe('caught COMMAND_FAILED, next');
    expect(await runAsync(pod, tolerant())).toBe('caught COMMAND_FAILED, next');
  });

  for (const flavour of ['iptables', 'nftables'] as const) {
    it(`${flavour}: installs and removes the in-pod rules while the event loop keeps turning`, async () => {
      let turns = 0;
      let done = false;
      const spin = (): void => {
        if (done) return;
        turns++;
        setImmediate(spin);
      };
      setImmediate(spin);
      try {
        await applyInpodRulesAsync(pod, { dnsCapture: false }, flavour);
      } finally {
        done = true;
      }
      // spawnSync would have held the loop for the whole apply: not one turn.
      expect(turns).toBeGreaterThan(0);
      expect(checkInpodRules(pod, { dnsCapture: false }, flavour)).toEqual({ kind: 'ok' });
      await removeInpodRulesAsync(pod, flavour, { dnsCapture: false });
      expect(pod.exec(['iptables-save'])).not.toMatch(/istio/i);
      expect(pod.exec(['nft', 'list', 'ruleset'])).not.toMatch(/istio/i);
    });
  }
});
