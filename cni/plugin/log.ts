// The plugin's log: pino JSON lines on stderr (stdout is the CNI result). pino is loaded only when a
// line at or above the configured level is written, since loading it would add to every pod start
// even when nothing is logged; lines written meanwhile are queued in order. `flush` before exit.
import type { Logger } from '../../lib/log/logger.ts';
import type { PluginLogLevel } from './config.ts';

type Level = Exclude<PluginLogLevel, 'silent'>;
const RANK: Record<PluginLogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, silent: Infinity };

export interface PluginLog {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
  /** Resolves once every accepted line is written. */
  flush(): Promise<void>;
}

/** `load` makes the real logger (main.ts: lib/log's pino on stderr; tests: a captured stream). */
export function createPluginLog(level: PluginLogLevel, load: (level: PluginLogLevel) => Promise<Logger>): PluginLog {
  let logger: Logger | undefined;
  let failed = false;
  let loading: Promise<void> | undefined;
  const queue: { level: Level; fields: Record<string, unknown>; msg: string }[] = [];
  // No logger after all: keep the lines, unformatted, rather than lose them.
  const raw = (l: Level, fields: Record<string, unknown>, msg: string): void => {
    process.stderr.write(`ambient-cni ${l}: ${msg} ${JSON.stringify(fields)}\n`);
  };

  const write = (l: Level, fields: Record<string, unknown>, msg: string): void => {
    if (RANK[l] < RANK[level]) return;
    if (logger) return logger[l](fields, msg);
    if (failed) return raw(l, fields, msg);
    queue.push({ level: l, fields, msg });
    loading ??= load(level).then(
      (lg) => {
        logger = lg;
        for (const q of queue.splice(0)) lg[q.level](q.fields, q.msg);
      },
      (err: unknown) => {
        failed = true;
        process.stderr.write(`ambient-cni: logger failed to load (${(err as Error).message})\n`);
        for (const q of queue.splice(0)) raw(q.level, q.fields, q.msg);
      },
    );
  };

  return {
    debug: (f, m) => write('debug', f, m),
    info: (f, m) => write('info', f, m),
    warn: (f, m) => write('warn', f, m),
    error: (f, m) => write('error', f, m),
    flush: async () => {
      await loading;
    },
  };
}
