// ztunnel's own resolv.conf, read for the upstream resolvers the DNS proxy forwards to. Pure parsing
// with glibc's rules: the first three numeric nameservers, the last search/domain line wins,
// `options timeout:` and `attempts:`; no nameserver means 127.0.0.1, as glibc assumes.
import { isIP } from 'node:net';

export interface Upstream {
  address: string;
  port: number;
}

export interface ResolvConf {
  nameservers: Upstream[];
  search: string[];
  /** Per-attempt timeout in ms (`options timeout:n`, glibc default 5 s, at most 30 s). */
  timeoutMs: number;
  /** `options attempts:n` (glibc default 2, at most 5). */
  attempts: number;
}

/** glibc's MAXNS: later nameserver lines are ignored. */
const MAX_NAMESERVERS = 3;

export function parseResolvConf(text: string): ResolvConf {
  const nameservers: Upstream[] = [];
  let search: string[] = [];
  let timeoutMs = 5000;
  let attempts = 2;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [keyword, ...args] = line.split(/\s+/);
    if (keyword === 'nameserver' && args[0] !== undefined) {
      // A scoped IPv6 address (fe80::1%eth0) cannot be reached from a pod netns by that scope.
      if (isIP(args[0]) && !args[0].includes('%') && nameservers.length < MAX_NAMESERVERS) nameservers.push({ address: args[0], port: 53 });
    } else if (keyword === 'search' || keyword === 'domain') {
      search = args.filter((a) => a.length > 0).map((a) => a.replace(/\.$/, '').toLowerCase());
    } else if (keyword === 'options') {
      for (const opt of args) {
        const m = /^(timeout|attempts):(\d+)$/.exec(opt);
        if (!m) continue;
        const n = Number(m[2]);
        if (m[1] === 'timeout') timeoutMs = Math.min(Math.max(n, 1), 30) * 1000;
        else attempts = Math.min(Math.max(n, 1), 5);
      }
    }
  }
  if (nameservers.length === 0) nameservers.push({ address: '127.0.0.1', port: 53 });
  return { nameservers, search, timeoutMs, attempts };
}
