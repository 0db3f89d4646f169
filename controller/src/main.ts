// Controller process entry: configuration from the environment, the controller, signal handling.
import { startController } from './app.ts';
import { controllerConfigFromEnv } from './config.ts';

const parsed = controllerConfigFromEnv(process.env);
if (!parsed.ok) {
  for (const e of parsed.errors) process.stderr.write(`controller: ${e}\n`);
  process.exit(2);
}
const controller = await startController(parsed.config);
let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    void controller.close().then(() => process.exit(0));
  });
}
