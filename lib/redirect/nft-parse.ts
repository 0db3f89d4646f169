// Reading `nft list table` / `nft list ruleset` text back into tables, sets and chains with their
// header and rule lines, normalised (whitespace, named priorities, handles) so it compares with what
// a builder wants. Only the block structure is interpreted; rule text stays opaque.
import { RedirectError } from './errors.ts';
import { NFT_PRIORITY } from './nft-ruleset.ts';

export interface ParsedNftChain {
  name: string;
  /** Normalised base-chain header (`type ... hook ... priority <n>; policy accept;`), if any. */
  header?: string;
  rules: string[];
}

export interface ParsedNftTable {
  family: string;
  name: string;
  sets: { name: string; type?: string }[];
  chains: ParsedNftChain[];
}

type Block =
  | { kind: 'table'; table: ParsedNftTable }
  | { kind: 'chain'; chain: ParsedNftChain }
  | { kind: 'set'; set: { name: string; type?: string }; inner: number }
  | { kind: 'other' };

export function parseNftList(text: string): ParsedNftTable[] {
  const tables: ParsedNftTable[] = [];
  const stack: Block[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\s+#\s*handle\s+\d+\s*$/, '').trim().replace(/\s+/g, ' ');
    if (line === '') return;
    const top = stack[stack.length - 1];
    // Set and map bodies (element lists) may wrap over lines: count braces until they balance.
    if (top?.kind === 'set' && top.inner > 0) {
      top.inner += braces(line);
      return;
    }
    if (line === '}') {
      if (!stack.pop()) throw unparsable(i, line, 'unbalanced }');
      return;
    }
    const open = /^(table|chain|set|map|flowtable|counter|quota|ct|limit|secmark|synproxy)\s+(.*?)\s*\{$/.exec(line);
    if (open) {
      const [, kind, rest = ''] = open;
      stack.push(openBlock(kind!, rest, top, tables, i, line));
      return;
    }
    if (!top) throw unparsable(i, line, 'outside a table');
    if (top.kind === 'chain') {
      if (/^type \S+ hook /.test(line)) top.chain.header = normaliseHeader(line);
      else top.chain.rules.push(line);
    } else if (top.kind === 'set') {
      const type = /^type (.+)$/.exec(line);
      if (type) top.set.type = type[1];
      top.inner += braces(line);
    }
  });
  if (stack.length) throw new RedirectError('UNPARSABLE_OUTPUT', 'nft list: unterminated block');
  return tables;
}

function openBlock(kind: string, rest: string, top: Block | undefined, tables: ParsedNftTable[], i: number, line: string): Block {
  if (kind === 'table') {
    if (top) throw unparsable(i, line, 'nested table');
    const [family = '', name = ''] = rest.split(' ');
    const table: ParsedNftTable = { family, name, sets: [], chains: [] };
    tables.push(table);
    return { kind: 'table', table };
  }
  if (top?.kind !== 'table') {
    if (!top) throw unparsable(i, line, 'outside a table');
    return { kind: 'other' };
  }
  if (kind === 'chain') {
    const chain: ParsedNftChain = { name: rest, rules: [] };
    top.table.chains.push(chain);
    return { kind: 'chain', chain };
  }
  if (kind === 'set' || kind === 'map') {
    const set: { name: string; type?: string } = { name: rest };
    top.table.sets.push(set);
    return { kind: 'set', set, inner: 0 };
  }
  return { kind: 'other' };
}

/** `priority dstnat;` and `priority -100;` compare equal; so do runs of whitespace. */
export function normaliseHeader(line: string): string {
  return line
    .trim()
    .replace(/\s+/g, ' ')
    .replace(/priority ([a-z]+)\s*([+-]\s*\d+)?;/, (m, name: string, offset: string | undefined) => {
      const base = NFT_PRIORITY[name];
      if (base === undefined) return m;
      return `priority ${base + (offset ? Number(offset.replace(/\s+/g, '')) : 0)};`;
    });
}

function braces(line: string): number {
  let n = 0;
  for (const ch of line) {
    if (ch === '{') n++;
    else if (ch === '}') n--;
  }
  return n;
}

function unparsable(i: number, line: string, why: string): RedirectError {
  return new RedirectError('UNPARSABLE_OUTPUT', `nft list line ${i + 1} ${why}: ${JSON.stringify(line)}`);
}

/** Names from `nft list tables` (`table inet istio-ambient-nat` per line), as `family name`. */
export function parseNftTableNames(text: string): string[] {
  return text
    .split('\n')
    .map((l) => /^table (\S+) (\S+)$/.exec(l.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]} ${m[2]}`);
}
