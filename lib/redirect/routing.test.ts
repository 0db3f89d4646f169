// Policy routing: reading `ip -j` output (fixtures as iproute2 6.1 prints them) and the commands
// that reconcile the fwmark rule and the table-100 route.
import { describe, expect, it } from 'vitest';
import { diffMultiset, diffSequence } from './diff.ts';
import { resolveRedirectOptions } from './options.ts';
import { buildInpodRouting, diffRouting, parseInstalledRouting, planRouting } from './routing.ts';

const opts = resolveRedirectOptions();
const [want] = buildInpodRouting(opts);

const RULES_NONE = '[{"priority":0,"src":"all","table":"local"},{"priority":32766,"src":"all","table":"main"},{"priority":32767,"src":"all","table":"default"}]';
const RULES_OURS =
  '[{"priority":0,"src":"all","table":"local"},{"priority":32764,"src":"all","fwmark":"0x111","fwmask":"0xfff","table":"100"},{"priority":32766,"src":"all","table":"main"}]';
const ROUTES_NONE =
  '[{"type":"local","dst":"127.0.0.0/8","dev":"lo","table":"local","protocol":"kernel","scope":"host","prefsrc":"127.0.0.1","flags":[]}]';
const ROUTES_OURS =
  '[{"type":"local","dst":"default","dev":"lo","table":"100","scope":"host","flags":[]},{"type":"local","dst":"127.0.0.0/8","dev":"lo","table":"local","protocol":"kernel","scope":"host","prefsrc":"127.0.0.1","flags":[]}]';

describe('parseInstalledRouting', () => {
  it('keeps only rules at our priority or table and routes of our table', () => {
    expect(parseInstalledRouting('ipv4', RULES_OURS, ROUTES_OURS, opts)).toEqual({
      family: 'ipv4',
      rules: [{ priority: 32764, fwmark: 0x111, fwmask: 0xfff, table: '100' }],
      routes: [{ type: 'local', dst: 'default', dev: 'lo' }],
    });
    expect(parseInstalledRouting('ipv4', RULES_NONE, '', opts)).toEqual({ family: 'ipv4', rules: [], routes: [] });
  });

  it('refuses output that is not a JSON array', () => {
    expect(() => parseInstalledRouting('ipv4', 'Error', '[]', opts)).toThrow(expect.objectContaining({ code: 'UNPARSABLE_OUTPUT' }));
    expect(() => parseInstalledRouting('ipv4', '{}', '[]', opts)).toThrow(expect.objectContaining({ code: 'UNPARSABLE_OUTPUT' }));
  });
});

describe('planRouting', () => {
  it('adds the rule and route to a fresh netns', () => {
    expect(planRouting(parseInstalledRouting('ipv4', RULES_NONE, ROUTES_NONE, opts), want, opts)).toEqual(want!.add);
  });

  it('does nothing when both are in place', () => {
    expect(planRouting(parseInstalledRouting('ipv4', RULES_OURS, ROUTES_OURS, opts), want, opts)).toEqual([]);
  });

  it('replaces a duplicated or different rule, and clears a table with extra routes', () => {
    const installed = {
      family: 'ipv4' as const,
      rules: [
        { priority: 32764, fwmark: 0x111, fwmask: 0xfff, table: '100' },
        { priority: 32764, fwmark: 0x222, fwmask: 0xfff, table: '100' },
      ],
      routes: [
        { type: 'local', dst: 'default', dev: 'lo' },
        { type: 'unicast', dst: '10.0.0.0/8', dev: 'eth0' },
      ],
    };
    expect(planRouting(installed, want, opts)).toEqual([
      ['ip', '-4', 'rule', 'del', 'pref', '32764', 'lookup', '100'],
      ['ip', '-4', 'rule', 'del', 'pref', '32764', 'lookup', '100'],
      want!.add[0],
      ['ip', '-4', 'route', 'flush', 'table', '100'],
      want!.add[1],
    ]);
  });

  it('removes everything of ours when nothing is wanted', () => {
    expect(planRouting(parseInstalledRouting('ipv4', RULES_OURS, ROUTES_OURS, opts), undefined, opts)).toEqual([
      ['ip', '-4', 'rule', 'del', 'pref', '32764', 'lookup', '100'],
      ['ip', '-4', 'route', 'flush', 'table', '100'],
    ]);
    expect(planRouting(parseInstalledRouting('ipv4', RULES_NONE, ROUTES_NONE, opts), undefined, opts)).toEqual([]);
  });
});

describe('diffRouting', () => {
  it('describes missing and unexpected rule and route', () => {
    expect(diffRouting(parseInstalledRouting('ipv4', RULES_NONE, ROUTES_NONE, opts), want, 100)).toEqual({
      missing: ['ipv4 ip rule: pref 32764 fwmark 0x111/0xfff lookup 100', 'ipv4 ip route: local default dev lo table 100'],
      unexpected: [],
    });
    expect(diffRouting(parseInstalledRouting('ipv6', RULES_OURS, ROUTES_OURS, opts), undefined, 100).unexpected).toHaveLength(2);
  });
});

describe('diffMultiset / diffSequence', () => {
  it('counts duplicates and spots order changes', () => {
    expect(diffMultiset(['a', 'b'], ['a', 'a', 'c'])).toEqual({ missing: ['b'], unexpected: ['a', 'c'] });
    expect(diffSequence(['a', 'b'], ['b', 'a'])).toEqual({ missing: [], unexpected: [], outOfOrder: true });
    expect(diffSequence(['a', 'b'], ['a', 'b'])).toEqual({ missing: [], unexpected: [], outOfOrder: false });
  });
});
