// waypoint process entry: settings from the environment (exit 2 when invalid), the app, signal
// handling (SIGTERM/SIGINT drain, then exit 0), and the last-resort error handlers that log and
// count what no handler caught instead of letting one connection's bug end the process.
import { startWaypoint, type WaypointApp } from './app.ts';
import { configFromEnv } from './config.ts';

const parsed = configFromEnv(process.env);
if (!parsed.ok) {
  for (const e of parsed.errors) process.stderr.write(`waypoint: ${e}\n`);
  process.exit(2);
}

let app: WaypointApp | undefined;
for (const kind of ['exception', 'rejection'] as const) {
  process.on(kind === 'exception' ? 'uncaughtException' : 'unhandledRejection', (err: unknown) => {
    // Before the app exists this is a start-up failure, not one connection's problem.
    if (!app) {
      process.stderr.write(`waypoint: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    }
    app.reportUncaught(kind, err);
  });
}

try {
  app = await startWaypoint(parsed.config);
} catch (err) {
  process.stderr.write(`waypoint: cannot start: ${(err as Error).message}\n`);
  process.exit(1);
}

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    app!.log.info({ signal: sig }, 'shutting down');
    void app!.shutdown().then(
      () => process.exit(0),
      (err: Error) => {
        app!.log.error({ err: err.message }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
