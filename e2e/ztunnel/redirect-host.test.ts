// lib/redirect's node-side probe SNAT in real namespaces, both flavours: a "node" netns holding the
// host rules and a "pod" netns with the in-pod rules, joined by a veth pair. A connection the node
// itself opens to an enrolled pod must reach the app directly (source 169.254.7.127); to a pod not
// in the set it is captured to 15006 like any other inbound traffic. Nothing touches the root
// netns; both namespaces are deleted afterwards, also on failure. Needs root.
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTcp, listenTcp } from '../../lib/netns/index.ts';
import {
  addProbeTargets,
  applyHostProbeRules,
  applyInpodRules,
  removeHostProbeRules,
  removeProbeTargets,
  type RedirectFlavour,
} from '../../lib/redirect/index.ts';
import { pollUntil } from '../lab/poll.ts';
import { requireRoot, run, type Ns } from './netns-harness.ts';

const NODE_V4 = '198.51.100.1';
const POD_V4 = '198.51.100.2';
const APP_PORT = 8080;

describe.each(['iptables', 'nftables'] as const)('node probe SNAT, %s flavour (root)', (flavour: RedirectFlavour) => {
  const id = randomBytes(3).toString('hex');
  const created: string[] = [];
  const servers: net.Server[] = [];
  const sockets: net.Socket[] = [];
  let node: Ns;
  let pod: Ns;
  const accepted: Record<'inbound' | 'app', net.Socket[]> = { inbound: [], app: [] };

  const ns = (role: string): Ns => {
    const name = `amt-rd-${id}-${role}`;
    created.push(name);
    run(['ip', 'netns', 'add', name]);
    const path = `/run/netns/${name}`;
    const handle: Ns = { name, path, sh: (argv) => run(['nsenter', `--net=${path}`, '--', ...argv]) };
    handle.sh(['ip', 'link', 'set', 'lo', 'up']);
    return handle;
  };

  const listen = (port: number, into: net.Socket[], mark?: number): void => {
    const server = listenTcp({ netns: pod.path, address: '0.0.0.0', port, mark, reusePort: true });
    servers.push(server);
    server.on('connection', (s) => {
      s.on('error', () => undefined);
      sockets.push(s);
      into.push(s);
    });
  };

  /** Dials the pod's app port from the node and reports which pod listener took it, from where. */
  async function probe(): Promise<{ landed: 'inbound' | 'app'; source: string | undefined }> {
    const before = { inbound: accepted.inbound.length, app: accepted.app.length };
    const s = connectTcp({ netns: node.path, host: POD_V4, port: APP_PORT });
    s.on('error', () => undefined);
    sockets.push(s);
    return pollUntil(
      'the node connection to land in the pod',
      () => {
        for (const landed of ['inbound', 'app'] as const) {
          const peer = accepted[landed][before[landed]];
          if (peer) return { landed, source: peer.remoteAddress };
        }
        return undefined;
      },
      { timeoutMs: 5_000, intervalMs: 20 },
    );
  }

  const hostState = (): string => {
    const strip = (t: string): string => t.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/, '[]').replace(/counter packets \d+ bytes \d+/, 'counter')).join('\n');
    return [strip(node.sh(['iptables-save'])), strip(node.sh(['nft', 'list', 'ruleset'])), node.sh(['ipset', 'list'])].join('\n----\n');
  };

  beforeAll(() => {
    requireRoot('e2e/ztunnel/redirect-host.test.ts');
    node = ns('node');
    pod = ns('pod');
    run(['ip', '-n', pod.name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node.name]);
    node.sh(['ip', 'addr', 'add', `${NODE_V4}/24`, 'dev', 'eth0']);
    node.sh(['ip', 'link', 'set', 'eth0', 'up']);
    pod.sh(['ip', 'addr', 'add', `${POD_V4}/24`, 'dev', 'eth0']);
    pod.sh(['ip', 'link', 'set', 'eth0', 'up']);
    // As in a real pod: everything off-link, the probe source included, goes via the node.
    pod.sh(['ip', 'route', 'add', 'default', 'via', NODE_V4]);
    listen(15006, accepted.inbound, 0x539);
    listen(APP_PORT, accepted.app);
    applyInpodRules(pod, {}, flavour);
  });

  afterAll(() => {
    for (const s of sockets.splice(0)) s.destroy();
    for (const s of servers.splice(0)) s.close();
    const errors: string[] = [];
    for (const name of created.splice(0)) {
      try {
        run(['ip', 'netns', 'delete', name]);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    if (errors.length) throw new Error(`cleanup failed: ${errors.join('; ')}`);
  });

  it('without host rules, a node connection is captured like any inbound one', async () => {
    expect(await probe()).toEqual({ landed: 'inbound', source: NODE_V4 });
  });

  it('with host rules but the pod not enrolled, nothing changes', async () => {
    applyHostProbeRules(node, {}, flavour);
    expect(await probe()).toEqual({ landed: 'inbound', source: NODE_V4 });
  });

  it('for an enrolled pod, the node connection arrives from 169.254.7.127 and bypasses capture', async () => {
    addProbeTargets(node, [POD_V4], flavour);
    addProbeTargets(node, [POD_V4], flavour);
    expect(await probe()).toEqual({ landed: 'app', source: '169.254.7.127' });
  });

  it('re-applying changes nothing and keeps the enrolled pods', async () => {
    const before = hostState();
    applyHostProbeRules(node, {}, flavour);
    expect(hostState()).toBe(before);
    expect(await probe()).toEqual({ landed: 'app', source: '169.254.7.127' });
  });

  it('after the pod leaves the set, capture resumes; removal is idempotent', async () => {
    removeProbeTargets(node, [POD_V4], flavour);
    removeProbeTargets(node, [POD_V4], flavour);
    expect(await probe()).toEqual({ landed: 'inbound', source: NODE_V4 });
  });

  it('removing the host rules leaves nothing of ours, twice without error', () => {
    removeHostProbeRules(node, flavour);
    removeHostProbeRules(node, flavour);
    const after = hostState();
    expect(after).not.toContain('ISTIO_POSTRT');
    expect(after).not.toContain('istio-ambient');
    expect(after).not.toContain('istio-inpod-probes');
  });
});
