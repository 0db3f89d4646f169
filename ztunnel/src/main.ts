// ztunnel process entry: configuration from the environment, the app, and signal handling
// (SIGTERM drains: listeners close, live connections get CONNECTION_TERMINATION_DEADLINE).
import { startZtunnel } from './app.ts';
import { configFromEnv } from './config.ts';

const parsed = configFromEnv(process.env);
if (!parsed.ok) {
  for (const e of parsed.errors) process.stderr.write(`ztunnel: ${e}\n`);
  process.exit(2);
}

const app = await startZtunnel(parsed.config);
let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal: sig }, 'draining');
    void app.shutdown().then(() => process.exit(0));
  });
}
