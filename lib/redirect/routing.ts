// Policy routing for replies to ztunnel's transparent sockets (fact sheet §2.1): packets carrying
// the tproxy mark look up a table whose only route is "everything is local, via lo". The wanted
// state, the `ip` commands that create it, reading `ip -j` output back, and the plan that
// reconciles one with the other. Pure; apply.ts runs the commands.
import { hex } from './iptables-rule.ts';
import { diffMultiset } from './diff.ts';
import { RedirectError } from './errors.ts';
import type { RedirectOptions } from './options.ts';
import { inpodFamilies, type IpFamily } from './rules.ts';

export interface PolicyRouting {
  family: IpFamily;
  priority: number;
  fwmark: number;
  fwmask: number;
  table: number;
  /** `ip rule add ...` and `ip route add ...` argv, for a netns that has neither. */
  add: string[][];
}

/** What `ip -j rule show` / `ip -j route show table N` report, reduced to what we compare. */
export interface InstalledRule {
  priority: number;
  fwmark?: number;
  fwmask?: number;
  table: string;
}
export interface InstalledRoute {
  type: string;
  dst: string;
  dev: string;
}

export interface InstalledRouting {
  family: IpFamily;
  /** Rules at our priority or pointing at our table. */
  rules: InstalledRule[];
  /** Every route in our table. */
  routes: InstalledRoute[];
}

export function buildInpodRouting(opts: RedirectOptions): PolicyRouting[] {
  return inpodFamilies(opts).map((family) => {
    const f = family === 'ipv4' ? '-4' : '-6';
    const sel = ruleSelector(opts);
    return {
      family,
      priority: opts.rulePriority,
      fwmark: opts.tproxyMark,
      fwmask: opts.tproxyMask,
      table: opts.routeTable,
      add: [
        ['ip', f, 'rule', 'add', ...sel],
        ['ip', f, 'route', 'add', 'local', family === 'ipv4' ? '0.0.0.0/0' : '::/0', 'dev', 'lo', 'table', String(opts.routeTable)],
      ],
    };
  });
}

function ruleSelector(o: Pick<RedirectOptions, 'tproxyMark' | 'tproxyMask' | 'rulePriority' | 'routeTable'>): string[] {
  return ['fwmark', `${hex(o.tproxyMark)}/${hex(o.tproxyMask)}`, 'pref', String(o.rulePriority), 'lookup', String(o.routeTable)];
}

/** Reads `ip -j rule show` and `ip -j route show table all` for one family, keeping what concerns us. */
export function parseInstalledRouting(family: IpFamily, ruleJson: string, routeJson: string, opts: Pick<RedirectOptions, 'rulePriority' | 'routeTable'>): InstalledRouting {
  const rules = parseJsonArray(ruleJson, 'ip rule show')
    .map((r): InstalledRule => ({
      priority: num(r['priority']) ?? -1,
      fwmark: num(r['fwmark']),
      fwmask: num(r['fwmask']),
      table: String(r['table'] ?? ''),
    }))
    .filter((r) => r.priority === opts.rulePriority || r.table === String(opts.routeTable));
  const routes = parseJsonArray(routeJson, 'ip route show')
    .filter((r) => String(r['table'] ?? 'main') === String(opts.routeTable))
    .map((r): InstalledRoute => ({
    type: String(r['type'] ?? 'unicast'),
    dst: String(r['dst'] ?? ''),
    dev: String(r['dev'] ?? ''),
  }));
  return { family, rules, routes };
}

export function describeRule(family: IpFamily, r: InstalledRule): string {
  const mark = r.fwmark === undefined ? '' : ` fwmark ${hex(r.fwmark)}${r.fwmask === undefined ? '' : `/${hex(r.fwmask)}`}`;
  return `${family} ip rule: pref ${r.priority}${mark} lookup ${r.table}`;
}

export function describeRoute(family: IpFamily, table: number, r: InstalledRoute): string {
  return `${family} ip route: ${r.type} ${r.dst} dev ${r.dev} table ${table}`;
}

/** The wanted state of one family, in the installed shape, or empty when the family is not wanted. */
export function wantedRouting(family: IpFamily, want: PolicyRouting | undefined): { rules: InstalledRule[]; routes: InstalledRoute[] } {
  if (!want) return { rules: [], routes: [] };
  return {
    rules: [{ priority: want.priority, fwmark: want.fwmark, fwmask: want.fwmask, table: String(want.table) }],
    // ip -j prints a default destination as "default" in both families.
    routes: [{ type: 'local', dst: 'default', dev: 'lo' }],
  };
}

/**
 * Commands that turn `installed` into `want` (or into nothing when want is undefined). Rules are
 * deleted and re-added only when they differ: `ip rule add` refuses an exact duplicate.
 */
export function planRouting(installed: InstalledRouting, want: PolicyRouting | undefined, opts: Pick<RedirectOptions, 'rulePriority' | 'routeTable'>): string[][] {
  const f = installed.family === 'ipv4' ? '-4' : '-6';
  const w = wantedRouting(installed.family, want);
  const cmds: string[][] = [];
  const rulesOk = sameItems(installed.rules.map(ruleKey), w.rules.map(ruleKey));
  if (!rulesOk) {
    for (const r of installed.rules) {
      cmds.push(['ip', f, 'rule', 'del', 'pref', String(r.priority), 'lookup', r.table]);
    }
    if (want) cmds.push(want.add[0]!);
  }
  const routesOk = sameItems(installed.routes.map(routeKey), w.routes.map(routeKey));
  if (!routesOk) {
    // The table is ours alone (Istio reserves it in the pod netns): clear it rather than diff it.
    if (installed.routes.length) cmds.push(['ip', f, 'route', 'flush', 'table', String(opts.routeTable)]);
    if (want) cmds.push(want.add[1]!);
  }
  return cmds;
}

/** Lines for the drift report: [missing, unexpected]. */
export function diffRouting(installed: InstalledRouting, want: PolicyRouting | undefined, table: number): { missing: string[]; unexpected: string[] } {
  const w = wantedRouting(installed.family, want);
  const fam = installed.family;
  const rules = diffMultiset(w.rules.map((r) => describeRule(fam, r)), installed.rules.map((r) => describeRule(fam, r)));
  const routes = diffMultiset(w.routes.map((r) => describeRoute(fam, table, r)), installed.routes.map((r) => describeRoute(fam, table, r)));
  return { missing: [...rules.missing, ...routes.missing], unexpected: [...rules.unexpected, ...routes.unexpected] };
}

function sameItems(a: readonly string[], b: readonly string[]): boolean {
  const d = diffMultiset(a, b);
  return d.missing.length === 0 && d.unexpected.length === 0;
}

const ruleKey = (r: InstalledRule): string => `${r.priority}|${r.fwmark ?? ''}|${r.fwmask ?? ''}|${r.table}`;
const routeKey = (r: InstalledRoute): string => `${r.type}|${r.dst}|${r.dev}`;

function parseJsonArray(text: string, what: string): Record<string, unknown>[] {
  // An empty table makes some iproute2 versions print nothing at all rather than [].
  if (text.trim() === '') return [];
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new RedirectError('UNPARSABLE_OUTPUT', `${what}: not JSON`, { cause: err });
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'object' && x !== null)) {
    throw new RedirectError('UNPARSABLE_OUTPUT', `${what}: expected a JSON array of objects`);
  }
  return v as Record<string, unknown>[];
}

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(v)) return Number(v);
  return undefined;
}
