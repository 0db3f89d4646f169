// Node agent process entry: configuration from the environment, the agent, and signal handling.
// SIGTERM stops the agent but leaves captured pods captured (a restarted agent takes them over),
// unless its DaemonSet is gone (`helm uninstall`): then the pods are released and the plugin removed.
import { rmSync } from 'node:fs';
import { createLogger } from '../../lib/log/logger.ts';
import { enrollmentStateFile, pluginInstaller, startNodeAgent } from './app.ts';
import { agentConfigFromEnv } from './config.ts';

const parsed = agentConfigFromEnv(process.env);
if (!parsed.ok) {
  for (const e of parsed.errors) process.stderr.write(`cni-agent: ${e}\n`);
  process.exit(2);
}

// `main.ts uninstall`: take the plugin out of the node's CNI chain (Helm pre-delete / node cleanup).
if (process.argv[2] === 'uninstall') {
  const log = createLogger({ component: 'cni-agent', level: parsed.config.logLevel });
  pluginInstaller(parsed.config, enrollmentStateFile(parsed.config), log).uninstall();
  rmSync(enrollmentStateFile(parsed.config), { force: true });
  process.exit(0);
}

const agent = await startNodeAgent(parsed.config);
let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    void agent
      .isUninstalling()
      .then((uninstall) => agent.close({ uninstall }))
      .then(() => process.exit(0), (err: Error) => {
        agent.log.error({ err: err.message }, 'stopping failed');
        process.exit(1);
      });
  });
}
