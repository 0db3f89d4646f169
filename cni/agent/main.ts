// Node agent process entry: configuration from the environment, the agent, and signal handling.
// SIGTERM stops the agent but leaves captured pods captured (a restarted agent takes them over).
import { startNodeAgent } from './app.ts';
import { agentConfigFromEnv } from './config.ts';

const parsed = agentConfigFromEnv(process.env);
if (!parsed.ok) {
  for (const e of parsed.errors) process.stderr.write(`cni-agent: ${e}\n`);
  process.exit(2);
}

const agent = await startNodeAgent(parsed.config);
let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    void agent.close().then(() => process.exit(0));
  });
}
