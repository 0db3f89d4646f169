// A lab node's root directory: what its hostPath volumes name. The nodes share the host's
// filesystem, so each gets `<lab>/nodes/<node>/host`, where `/var/run/ztunnel` on node1 differs
// from node2's and is the same directory for all of one node's pods (the ZDS socket the node
// agent and ztunnel meet at). The paths that are the node's own in the lab point where the lab
// keeps them: its CNI config and plugin dirs; the kernel's views (/proc, /run/netns) are shared.
import { existsSync, lstatSync, mkdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface NodeRootLinks {
  cniConfDir: string;
  cniBinDir?: string;
}

/** Node path → where it points in the lab (absolute). Pure, for tests. */
export function nodeRootLinks(o: NodeRootLinks): Record<string, string> {
  return {
    'etc/cni/net.d': o.cniConfDir,
    ...(o.cniBinDir ? { 'opt/cni/bin': o.cniBinDir } : {}),
    proc: '/proc',
    'run/netns': '/run/netns',
    'var/run/netns': '/run/netns',
  };
}

/** Makes `root` with its links (idempotent); returns it. */
export function prepareNodeRoot(root: string, o: NodeRootLinks): string {
  mkdirSync(root, { recursive: true });
  for (const [rel, target] of Object.entries(nodeRootLinks(o))) {
    const at = join(root, rel);
    mkdirSync(dirname(at), { recursive: true });
    let current: string | undefined;
    try {
      current = lstatSync(at).isSymbolicLink() ? readlinkSync(at) : '';
    } catch {
      current = undefined;
    }
    if (current === target) continue;
    if (current !== undefined || existsSync(at)) rmSync(at, { recursive: true, force: true });
    symlinkSync(target, at);
  }
  return root;
}
