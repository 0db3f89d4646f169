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
