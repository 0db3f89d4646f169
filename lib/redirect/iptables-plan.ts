// Reconciling what iptables-save shows with what a builder wants, for one address family: the
// restore text that makes it so in one atomic iptables-restore --noflush (our chains declared, so
// flushed and refilled; missing jumps added, duplicate and stray ones deleted; chains we no longer
// want deleted), and the same comparison spelled as a drift report.
import { diffMultiset, diffSequence } from './diff.ts';
import { jumpAddLine, jumpLine, type IptablesRules, type IptablesTableRules } from './iptables-ruleset.ts';
import { ownedState, ruleChain, type SavedIptables } from './iptables-save.ts';
import type { IpFamily } from './rules.ts';

/**
 * Restore input that turns `saved` into `want` (into nothing of ours when want is undefined).
 * Empty string when there is nothing of ours either way. Applying it twice changes nothing.
 */
export function planIptablesRestore(want: IptablesRules | undefined, saved: SavedIptables, owned: readonly string[]): string {
  const out: string[] = [];
  for (const table of tableNames(want, saved, owned)) {
    const w = want?.tables.find((t) => t.table === table);
    const have = ownedState(saved.get(table), owned);
    const wantChains = w?.chains ?? [];
    const stale = have.chains.filter((c) => !wantChains.includes(c));
    const lines: string[] = [];
    // Declaring a chain creates it, or flushes it when it exists: either way it is ours and empty.
    for (const c of [...wantChains, ...stale]) lines.push(`:${c} - [0:0]`);
    const wantJumps = (w?.jumps ?? []).map((j) => ({ j, line: jumpLine(j) }));
    const counts = countLines(have.jumps);
    for (const { j, line } of wantJumps) {
      const n = counts.get(line) ?? 0;
      if (n === 0) lines.push(jumpAddLine(j));
      for (let k = 1; k < n; k++) lines.push(toDelete(line));
      counts.delete(line);
    }
    for (const [line, n] of counts) for (let k = 0; k < n; k++) lines.push(toDelete(line));
    lines.push(...(w?.rules ?? []));
    for (const c of stale) lines.push(`-X ${c}`);
    out.push(`*${table}`, ...lines, 'COMMIT');
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

export interface IptablesDrift {
  missing: string[];
  unexpected: string[];
}

/** Differences between `want` and `saved` for one family, each line prefixed `<family> <table>: `. */
export function diffIptables(family: IpFamily, want: IptablesRules | undefined, saved: SavedIptables, owned: readonly string[]): IptablesDrift {
  const missing: string[] = [];
  const unexpected: string[] = [];
  for (const table of tableNames(want, saved, owned)) {
    const w: IptablesTableRules | undefined = want?.tables.find((t) => t.table === table);
    const have = ownedState(saved.get(table), owned);
    const at = (s: string): string => `${family} ${table}: ${s}`;
    const wantChains = w?.chains ?? [];
    for (const c of wantChains) if (!have.chains.includes(c)) missing.push(at(`chain ${c}`));
    for (const c of have.chains) if (!wantChains.includes(c)) unexpected.push(at(`chain ${c}`));
    const jumps = diffMultiset((w?.jumps ?? []).map(jumpLine), have.jumps);
    missing.push(...jumps.missing.map(at));
    unexpected.push(...jumps.unexpected.map(at));
    for (const c of new Set([...wantChains, ...have.chains])) {
      const d = diffSequence((w?.rules ?? []).filter((r) => ruleChain(r) === c), have.rules.get(c) ?? []);
      missing.push(...d.missing.map(at));
      unexpected.push(...d.unexpected.map(at));
      if (d.outOfOrder) unexpected.push(at(`${c} rules out of order`));
    }
  }
  return { missing, unexpected };
}

/** Tables that matter: wanted ones, then any other holding one of our chains or a jump into one. */
function tableNames(want: IptablesRules | undefined, saved: SavedIptables, owned: readonly string[]): string[] {
  const names = (want?.tables ?? []).map((t) => t.table);
  for (const [name, t] of saved) {
    if (names.includes(name)) continue;
    const have = ownedState(t, owned);
    if (have.chains.length || have.jumps.length) names.push(name);
  }
  return names;
}

function toDelete(line: string): string {
  return line.replace(/^-A /, '-D ');
}

function countLines(lines: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of lines) m.set(l, (m.get(l) ?? 0) + 1);
  return m;
}
