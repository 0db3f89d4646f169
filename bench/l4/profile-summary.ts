// Self time of a V8 .cpuprofile by function and by module (pure: the profile in, a table out).
import { basename } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}

/** The parts of V8's CPU profile format this reads. */
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  gcMs: number;
  byFunction: { name: string; ms: number }[];
  byModule: { name: string; ms: number }[];
  table: string;
}

const moduleOf = (f: CallFrame): string => {
  if (!f.url) return f.functionName.startsWith('(') ? f.functionName : '(native)';
  const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f.url);
  if (m) return m[1]!;
  if (f.url.startsWith('node:')) return f.url;
  return f.url.replace(/^file:\/\//, '').replace(/^.*?\/(lib|ztunnel|waypoint|controller|cni)\//, '$1/');
};

export function summarizeProfile(p: CpuProfile, top: number): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const fn = new Map<string, number>();
  const mod = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let gc = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const ms = (p.timeDeltas[i] ?? 0) / 1000;
    const n = byId.get(p.samples[i]!);
    if (!n) continue;
    total += ms;
    const f = n.callFrame;
    if (f.functionName === '(idle)') {
      idle += ms;
      continue;
    }
    if (f.functionName === '(garbage collector)') gc += ms;
    const key = `${f.functionName || '(anonymous)'} ${f.url ? `${basename(f.url)}:${f.lineNumber + 1}` : ''}`.trim();
    fn.set(key, (fn.get(key) ?? 0) + ms);
    const m = moduleOf(f);
    mod.set(m, (mod.get(m) ?? 0) + ms);
  }
  const sorted = (m: Map<string, number>) => [...m.entries()].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms);
  const byFunction = sorted(fn).slice(0, top);
  const byModule = sorted(mod).slice(0, top);
  const busy = total - idle || 1;
  const rows = (xs: { name: string; ms: number }[]) => xs.map((x) => `  ${x.ms.toFixed(0).padStart(7)} ms ${((x.ms / busy) * 100).toFixed(1).padStart(5)}%  ${x.name}`);
  const table = ['self time by function (share of busy time):', ...rows(byFunction), 'self time by module:', ...rows(byModule)].join('\n');
  return { totalMs: total, idleMs: idle, gcMs: gc, byFunction, byModule, table };
}
