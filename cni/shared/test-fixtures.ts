// A well-formed plugin event for the CNI tests (plugin, shared validators, the agent's server).
import type { CmdAddEvent } from './plugin-event.ts';

export const CMD_ADD_EVENT: CmdAddEvent = {
  containerId: 'c1',
  netns: '/run/netns/p',
  ifName: 'eth0',
  podName: 'web-0',
  podNamespace: 'app',
  podUid: 'u-1',
  infraContainerId: 'c1',
  ips: ['10.250.0.5', 'fd00::5'],
};
