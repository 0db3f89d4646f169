// Reading `iptables-save` output (also ip6tables-save) into tables, chains and rule lines, and
// picking out the part we own: our chains' rules and every rule elsewhere that jumps into them.
import { RedirectError } from './errors.ts';

export interface SavedTable {
  /** Every declared chain, built-in or not. */
  chains: string[];
  /** `-A CHAIN ...` lines in the order printed (per chain, the rule order). */
  rules: string[];
}

export type SavedIptables = Map<string, SavedTable>;

export function parseIptablesSave(text: string): SavedIptables {
  const tables: SavedIptables = new Map();
  let current: SavedTable | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('*')) {
      current = { chains: [], rules: [] };
      tables.set(line.slice(1), current);
      return;
    }
    if (line === 'COMMIT') {
      current = undefined;
      return;
    }
    if (!current) throw unparsable(i, line, 'outside a table');
    if (line.startsWith(':')) {
      const name = line.slice(1).split(/\s+/)[0];
      if (!name) throw unparsable(i, line, 'chain without a name');
      current.chains.push(name);
    } else if (line.startsWith('-A ')) {
      current.rules.push(line.replace(/\s+/g, ' '));
    } else {
      throw unparsable(i, line, 'not a chain or rule');
    }
  });
  return tables;
}

/** The chain a `-A CHAIN ...` line belongs to. */
export function ruleChain(line: string): string {
  return line.split(' ')[1] ?? '';
}

/** The chain a rule jumps (-j) or goes (-g) to, if any. */
export function ruleTarget(line: string): string | undefined {
  const m = / -[jg] (\S+)/.exec(line);
  return m?.[1];
}

export interface OwnedState {
  /** Our chains that exist in this table. */
  chains: string[];
  /** Rules inside each of our chains, in order. */
  rules: Map<string, string[]>;
  /** Rules in other chains that jump into ours. */
  jumps: string[];
}

export function ownedState(table: SavedTable | undefined, owned: readonly string[]): OwnedState {
  const chains = (table?.chains ?? []).filter((c) => owned.includes(c));
  const rules = new Map<string, string[]>(chains.map((c) => [c, []]));
  const jumps: string[] = [];
  for (const line of table?.rules ?? []) {
    const chain = ruleChain(line);
    const inOurs = rules.get(chain);
    if (inOurs) inOurs.push(line);
    else if (owned.includes(ruleTarget(line) ?? '')) jumps.push(line);
  }
  return { chains, rules, jumps };
}

function unparsable(i: number, line: string, why: string): RedirectError {
  return new RedirectError('UNPARSABLE_OUTPUT', `iptables-save line ${i + 1} ${why}: ${JSON.stringify(line)}`);
}
