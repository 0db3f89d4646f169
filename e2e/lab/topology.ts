// Network topology of the lab, all inside namespaces it creates: a fabric netns with a bridge, and one
// netns per node wired to it by a veth, with direct routes between the nodes' pod CIDRs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodePlan, NET } from './config.ts';
import { inNetns, run } from './exec.ts';
import type { LabNode } from './state.ts';

const FABRIC_BRIDGE = 'fab0';

function ipn(netns: string, ...args: string[]): void {
  run(['ip', '-n', netns, ...args]);
}

function sysctl(netns: string, key: string, value: string): void {
  run(inNetns(netns, ['sysctl', '-q', '-w', `${key}=${value}`]));
}

export function createFabric(prefix: string): string {
  const ns = `${prefix}-fabric`;
  run(['ip', 'netns', 'add', ns]);
  ipn(ns, 'link', 'set', 'lo', 'up');
  ipn(ns, 'link', 'add', FABRIC_BRIDGE, 'type', 'bridge');
  ipn(ns, 'addr', 'add', `${NET.fabricCidr.replace(/\.0\/24$/, '.1')}/24`, 'dev', FABRIC_BRIDGE);
  ipn(ns, 'link', 'set', FABRIC_BRIDGE, 'up');
  return ns;
}

/** The node's primary CNI network: Debian's bridge + host-local, as a runtime's conflist. */
export function primaryConflist(node: { name: string; podCidr: string; gateway: string }, ipamDir: string): object {
  return {
    cniVersion: '1.0.0',
    name: 'lab-pods',
    plugins: [
      {
        type: 'bridge',
        bridge: 'cni0',
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: node.podCidr, gateway: node.gateway }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: ipamDir,
        },
      },
    ],
  };
}

export function createNodes(prefix: string, fabricNs: string, count: number, dir: string): LabNode[] {
  const plans = Array.from({ length: count }, (_, i) => nodePlan(i + 1));
  const nodes: LabNode[] = [];
  for (const plan of plans) {
    const ns = `${prefix}-${plan.name}`;
    run(['ip', 'netns', 'add', ns]);
    ipn(ns, 'link', 'set', 'lo', 'up');
    // veth: eth0 in the node, its peer in the fabric (on the fabric bridge). Nothing in the root netns.
    ipn(ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', plan.name, 'netns', fabricNs);
    ipn(fabricNs, 'link', 'set', plan.name, 'master', FABRIC_BRIDGE, 'up');
    ipn(ns, 'addr', 'add', `${plan.fabricIp}/24`, 'dev', 'eth0');
    ipn(ns, 'link', 'set', 'eth0', 'up');
    sysctl(ns, 'net.ipv4.ip_forward', '1');
    const cniConfDir = join(dir, 'nodes', plan.name, 'net.d');
    mkdirSync(cniConfDir, { recursive: true });
    // The node's own plugin dir (the node agent installs ours there), searched before Debian's.
    const cniBinDir = join(dir, 'nodes', plan.name, 'cni-bin');
    mkdirSync(cniBinDir, { recursive: true });
    const ipamDir = join(dir, 'nodes', plan.name, 'ipam');
    writeFileSync(join(cniConfDir, '10-lab.conflist'), JSON.stringify(primaryConflist(plan, ipamDir), null, 2));
    nodes.push({ ...plan, netns: ns, cniConfDir, cniBinDir });
  }
  // host-gw style routing: each node reaches every other node's pod CIDR through that node.
  for (const a of nodes) {
    for (const b of nodes) {
      if (a !== b) ipn(a.netns, 'route', 'add', b.podCidr, 'via', b.fabricIp, 'dev', 'eth0');
    }
  }
  // Service VIPs without endpoints must reach the REJECT rule rather than fail routing first;
  // the fabric has no route onwards, so nothing leaves the lab.
  for (const n of nodes) ipn(n.netns, 'route', 'add', NET.serviceCidr, 'via', NET.fabricCidr.replace(/\.0\/24$/, '.1'), 'dev', 'eth0');
  return nodes;
}
