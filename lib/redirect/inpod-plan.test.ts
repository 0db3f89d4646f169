// The command plans apply.ts runs: which tools, in which order, for a fresh netns, a converged one,
// and removal, in both flavours.
import { describe, expect, it } from 'vitest';
import { buildInpodIptables } from './iptables-inpod.ts';
import { parseIptablesSave } from './iptables-save.ts';
import { diffIptablesInpod, diffNftInpod, planIptablesInpod, planNftInpod, type InstalledIptablesState, type InstalledNftState } from './inpod-plan.ts';
import { buildInpodNftables } from './nftables-inpod.ts';
import { parseNftList } from './nft-parse.ts';
import { renderNftTable } from './nft-ruleset.ts';
import { resolveRedirectOptions } from './options.ts';
import type { InstalledRouting } from './routing.ts';

const opts = resolveRedirectOptions({ ipv6: true });
const ours = { priority: 32764, fwmark: 0x111, fwmask: 0xfff, table: '100' };
const route = { type: 'local', dst: 'default', dev: 'lo' };
const emptyRouting: InstalledRouting[] = [
  { family: 'ipv4' as const, rules: [], routes: [] },
  { family: 'ipv6' as const, rules: [], routes: [] },
];
const fullRouting: InstalledRouting[] = [
  { family: 'ipv4' as const, rules: [ours], routes: [route] },
  { family: 'ipv6' as const, rules: [ours], routes: [route] },
];

function iptablesState(saved4: string, saved6: string, routing = emptyRouting): InstalledIptablesState {
  return { flavour: 'iptables', saved: { ipv4: parseIptablesSave(saved4), ipv6: parseIptablesSave(saved6) }, routing };
}

describe('planIptablesInpod', () => {
  const want = buildInpodIptables(opts);

  it('for a fresh netns: both restores, then rule and route per family', () => {
    const steps = planIptablesInpod(want, iptablesState('', ''), opts);
    expect(steps.map((s) => s.argv.join(' '))).toEqual([
      'iptables-restore -w --noflush',
      'ip6tables-restore -w --noflush',
      'ip -4 rule add fwmark 0x111/0xfff pref 32764 lookup 100',
      'ip -4 route add local 0.0.0.0/0 dev lo table 100',
      'ip -6 rule add fwmark 0x111/0xfff pref 32764 lookup 100',
      'ip -6 route add local ::/0 dev lo table 100',
    ]);
    expect(steps[0]!.stdin).toBe(want.ipv4.restore);
    expect(steps[1]!.stdin).toBe(want.ipv6!.restore);
  });

  it('for removal from a clean netns: nothing to run', () => {
    expect(planIptablesInpod(undefined, iptablesState('*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n', ''), opts)).toEqual([]);
  });

  it('for removal of a converged netns: restores without -A lines, then routing deletes', () => {
    const steps = planIptablesInpod(undefined, iptablesState(want.ipv4.restore, want.ipv6!.restore, fullRouting), opts);
    expect(steps.map((s) => s.argv[0])).toEqual(['iptables-restore', 'ip6tables-restore', 'ip', 'ip', 'ip', 'ip']);
    expect(steps[0]!.stdin).not.toMatch(/^-A /m);
    expect(diffIptablesInpod(want, iptablesState(want.ipv4.restore, want.ipv6!.restore, fullRouting), opts)).toEqual({ kind: 'ok' });
  });
});

describe('planNftInpod', () => {
  const want = buildInpodNftables(opts);
  const nftState = (tables: string, routing = emptyRouting): InstalledNftState => ({ flavour: 'nftables', tables: parseNftList(tables), routing });

  it('applies with one nft -f script whatever is installed', () => {
    const steps = planNftInpod(want, nftState(''), opts);
    expect(steps[0]).toEqual({ argv: ['nft', '-f', '-'], stdin: want.script });
    expect(steps).toHaveLength(5);
  });

  it('removes only when something of ours is there', () => {
    expect(planNftInpod(undefined, nftState(''), opts)).toEqual([]);
    const installed = want.tables.map(renderNftTable).join('\n');
    const steps = planNftInpod(undefined, nftState(installed, fullRouting), opts);
    expect(steps[0]!.stdin).toContain('delete table inet istio-ambient-raw');
    expect(steps.slice(1).map((s) => s.argv.slice(0, 4).join(' '))).toEqual(['ip -4 rule del', 'ip -4 route flush', 'ip -6 rule del', 'ip -6 route flush']);
    expect(diffNftInpod(want, nftState(installed, fullRouting), opts)).toEqual({ kind: 'ok' });
  });
});
