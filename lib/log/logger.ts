// Process logging: pino JSON, one line per event, level settable at run time (the admin /logging
// endpoint changes it). Components create one root logger and child loggers per module.
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export const LEVELS: readonly LevelWithSilent[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export function isLevel(v: string): v is LevelWithSilent {
  return (LEVELS as readonly string[]).includes(v);
}

export interface LoggerOptions {
  component: string;
  level?: string;
  /** Defaults to stdout; tests pass a stream to read the lines back. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  const level = opts.level && isLevel(opts.level) ? opts.level : 'info';
  return pino(
    {
      level,
      base: { component: opts.component },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    (opts.destination ?? process.stdout) as pino.DestinationStream,
  );
}
