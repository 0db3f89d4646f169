// Controller process entry: configuration from the environment, the controller, signal handling.
import { startController } from './app.ts';
import { controllerConfigFromEnv } from './config.ts';

const parsed = controllerConfigFromEnv(process.env);
if (!parsed.ok) {
  for (const e of parsed.errors) process.stderr.write(`controller: ${e}\n`);
  process.exit(2);
}
// Without a kubeconfig file the in-cluster config is used, which needs the service's address.
if (!parsed.config.kubeconfig && !process.env.KUBERNETES_SERVICE_HOST) {
  process.stderr.write('controller: KUBECONFIG: unset, and not in a cluster (no KUBERNETES_SERVICE_HOST): give a kubeconfig file or run in a pod\n');
  process.exit(2);
}
// Signals are handled from the start: a controller still waiting for the apiserver (or running as
// PID 1, where the default action does not apply) exits at once, there is nothing to drain yet.
let controller: Awaited<ReturnType<typeof startController>> | undefined;
let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    if (!controller) process.exit(0);
    void controller.close().then(() => process.exit(0));
  });
}
controller = await startController(parsed.config);
