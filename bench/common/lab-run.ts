// The frame of the benches that bring up their own lab: a 2-node lab, the mesh started on it, the
// bench body, then the mesh stopped and the lab torn down whatever happened; exits 1 on failure.
import { down, up } from '../../e2e/lab/lab.ts';
import type { LabState } from '../../e2e/lab/state.ts';
import type { LabMesh } from '../../e2e/ztunnel/lab-mesh.ts';

export async function runOnOwnLab(
  log: (line: string) => void,
  startMesh: (lab: LabState) => Promise<LabMesh>,
  body: (lab: LabState, mesh: LabMesh, dropMesh: () => Promise<void>) => Promise<void>,
): Promise<never> {
  const lab = await up({ nodes: 2, log });
  let mesh: LabMesh | undefined;
  let code = 0;
  try {
    mesh = await startMesh(lab);
    const m = mesh;
    // For a body that must stop the mesh itself (e.g. so its processes write their profiles).
    const dropMesh = async () => {
      mesh = undefined;
      await m.stop();
    };
    await body(lab, m, dropMesh);
  } catch (err) {
    log(`failed: ${(err as Error).stack ?? String(err)}`);
    code = 1;
  } finally {
    await mesh?.stop().catch(() => {});
    await down();
  }
  process.exit(code);
}

/**
 * Extra environment for the benched ztunnels, to see what a setting costs: BENCH_ZTUNNEL_NODE_OPTIONS
 * (V8/Node flags, e.g. --max-semi-space-size=2) and BENCH_ZTUNNEL_ENV (`K=V K2=V2`, e.g.
 * MALLOC_ARENA_MAX=2). `label` names what was set, for the report header; empty when nothing.
 */
export function benchZtunnelEnv(): { env: Record<string, string>; label: string } {
  const env: Record<string, string> = {};
  const labels: string[] = [];
  const flags = process.env.BENCH_ZTUNNEL_NODE_OPTIONS;
  if (flags) {
    env.NODE_OPTIONS = `--disable-warning=ExperimentalWarning ${flags}`;
    labels.push(`node flags ${flags}`);
  }
  for (const kv of (process.env.BENCH_ZTUNNEL_ENV ?? '').split(/\s+/).filter(Boolean)) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`BENCH_ZTUNNEL_ENV: ${kv} is not K=V`);
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
    labels.push(kv);
  }
  return { env, label: labels.join(', ') };
}
