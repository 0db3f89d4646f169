import { describe, expect, it } from 'vitest';
import { DEFAULT_PLUGIN_CONFIG } from './config.ts';
import { ErrorCode } from './cni-spec.ts';
import { ifNameProblem, parseCniArgs, parseRequest, podArgs } from './request.ts';

const prevResult = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01', sandbox: '/run/netns/p' }],
  ips: [{ address: '10.250.0.5/24', gateway: '10.250.0.1', interface: 0 }, { address: 'fd00::5/64', interface: 0 }],
};
const conf = (extra: Record<string, unknown> = {}) => JSON.stringify({ cniVersion: '1.0.0', name: 'pods', type: 'ambient-cni', prevResult, ...extra });
const addEnv = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'c0ffee',
  CNI_NETNS: '/run/netns/p',
  CNI_IFNAME: 'eth0',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=app;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=c0ffee;K8S_POD_UID=u-1',
  CNI_PATH: '/opt/cni/bin',
};

describe('parseRequest: rejections', () => {
  const cases: { name: string; env: Record<string, string | undefined>; stdin: string; code: number; msg: RegExp; version?: string }[] = [
    { name: 'no CNI_COMMAND', env: { ...addEnv, CNI_COMMAND: undefined }, stdin: conf(), code: ErrorCode.invalidEnvironment, msg: /^env\.CNI_COMMAND: required$/, version: '1.0.0' },
    { name: 'unknown command', env: { ...addEnv, CNI_COMMAND: 'FROB' }, stdin: conf(), code: ErrorCode.invalidEnvironment, msg: /env\.CNI_COMMAND: unknown command "FROB"/ },
    { name: 'ADD without CNI_NETNS', env: { ...addEnv, CNI_NETNS: undefined }, stdin: conf(), code: ErrorCode.invalidEnvironment, msg: /^env\.CNI_NETNS: required for ADD$/ },
    { name: 'ADD with empty CNI_NETNS', env: { ...addEnv, CNI_NETNS: '' }, stdin: conf(), code: ErrorCode.invalidEnvironment, msg: /env\.CNI_NETNS: required/ },
    { name: 'CHECK without CNI_NETNS', env: { ...addEnv, CNI_COMMAND: 'CHECK', CNI_NETNS: undefined }, stdin: conf(), code: ErrorCode.invalidEnvironment, msg: /env\.CNI_NETNS: required for CHECK/ },
    {
      name: 'all env problems at once',
      env: { CNI_COMMAND: 'ADD' },
      stdin: conf(),
      code: ErrorCode.invalidEnvironment,
      msg: /^env\.CNI_CONTAINERID: required for ADD; env\.CNI_NETNS: required for ADD; env\.CNI_IFNAME: required for ADD$/,
    },
    { name: 'bad container id', env: { ...addEnv, CNI_CONTAINERID: '-x' }, stdin: conf(), code: ErrorCode.invalidEnvironment, msg: /env\.CNI_CONTAINERID: "-x"/ },
    { name: 'bad ifname', env: { ...addEnv, CNI_IFNAME: 'eth/0' }, stdin: conf(), code: ErrorCode.invalidEnvironment, msg: /env\.CNI_IFNAME: "eth\/0" must not contain/ },
    { name: 'bad CNI_ARGS', env: { ...addEnv, CNI_ARGS: 'K8S_POD_NAME' }, stdin: conf(), code: ErrorCode.invalidEnvironment, msg: /env\.CNI_ARGS: "K8S_POD_NAME" is not KEY=VALUE/ },
    { name: 'malformed stdin', env: addEnv, stdin: '{"cniVersion": "1.0.0",', code: ErrorCode.decodingFailure, msg: /^stdin: not valid JSON/ },
    { name: 'empty stdin', env: addEnv, stdin: '', code: ErrorCode.decodingFailure, msg: /^stdin: empty/ },
    { name: 'stdin not an object', env: addEnv, stdin: '[1]', code: ErrorCode.decodingFailure, msg: /^stdin: the network config must be a JSON object/ },
    { name: 'no cniVersion', env: addEnv, stdin: conf({ cniVersion: undefined }), code: ErrorCode.invalidConfig, msg: /^config\.cniVersion: must be a non-empty string$/, version: '1.1.0' },
    { name: 'unsupported cniVersion', env: addEnv, stdin: conf({ cniVersion: '0.2.0' }), code: ErrorCode.incompatibleVersion, msg: /config\.cniVersion: "0\.2\.0" is not supported/, version: '1.1.0' },
    { name: 'no name', env: addEnv, stdin: conf({ name: '' }), code: ErrorCode.invalidConfig, msg: /^config\.name: must be a non-empty string$/ },
    { name: 'bad plugin field', env: addEnv, stdin: conf({ timeoutSeconds: 0 }), code: ErrorCode.invalidConfig, msg: /^config\.timeoutSeconds: must be a number of seconds/ },
    { name: 'ADD without prevResult', env: addEnv, stdin: conf({ prevResult: undefined }), code: ErrorCode.invalidConfig, msg: /^config\.prevResult: required for ADD; ambient-cni is a chained plugin/ },
    { name: 'CHECK without prevResult', env: { ...addEnv, CNI_COMMAND: 'CHECK' }, stdin: conf({ prevResult: undefined }), code: ErrorCode.invalidConfig, msg: /config\.prevResult: required for CHECK/ },
    { name: 'prevResult not an object', env: addEnv, stdin: conf({ prevResult: 'x' }), code: ErrorCode.invalidConfig, msg: /^config\.prevResult: must be a JSON object$/ },
    {
      name: 'prevResult with a bad address',
      env: addEnv,
      stdin: conf({ prevResult: { ips: [{ address: '10.0.0.300/24' }] } }),
      code: ErrorCode.invalidConfig,
      msg: /^config\.prevResult\.ips\[0\]\.address: must be an IP address in CIDR form/,
    },
  ];
  it.each(cases)('$name → code $code', ({ env, stdin, code, msg, version }) => {
    const r = parseRequest(env, stdin);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.failure.code).toBe(code);
    expect(r.failure.msg).toMatch(msg);
    // The error carries the config's version when it is one we speak, else the latest.
    expect(r.cniVersion).toBe(version ?? (stdin.includes('"cniVersion":"1.0.0"') ? '1.0.0' : '1.1.0'));
  });
});

describe('parseRequest: accepted requests', () => {
  it('ADD: runtime params, pod args, plugin defaults, prevResult and its IPs', () => {
    const r = parseRequest(addEnv, conf());
    expect(r).toEqual({
      ok: true,
      request: {
        command: 'ADD',
        runtime: {
          containerId: 'c0ffee',
          netns: '/run/netns/p',
          ifName: 'eth0',
          args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'app', K8S_POD_NAME: 'web-0', K8S_POD_INFRA_CONTAINER_ID: 'c0ffee', K8S_POD_UID: 'u-1' },
          pod: { namespace: 'app', name: 'web-0', uid: 'u-1', infraContainerId: 'c0ffee' },
        },
        config: { cniVersion: '1.0.0', name: 'pods', type: 'ambient-cni', plugin: { ...DEFAULT_PLUGIN_CONFIG } },
        prevResult,
        ips: ['10.250.0.5', 'fd00::5'],
      },
    });
  });

  it('ADD without CNI_ARGS is a request without a pod', () => {
    const r = parseRequest({ ...addEnv, CNI_ARGS: undefined }, conf());
    expect(r.ok && r.request.command === 'ADD' && r.request.runtime.pod).toBeUndefined();
  });

  it('ADD with a prevResult without ips (e.g. a non-IP primary plugin) has no IPs', () => {
    const r = parseRequest(addEnv, conf({ prevResult: { cniVersion: '1.0.0' } }));
    expect(r.ok && r.request.command === 'ADD' && r.request.ips).toEqual([]);
  });

  it('ignores fields it does not know (runtimes add their own)', () => {
    expect(parseRequest(addEnv, conf({ runtimeConfig: { portMappings: [] }, args: { cni: {} }, 'cni.dev/x': 1 })).ok).toBe(true);
  });

  it.each([
    { name: 'with a version', stdin: '{"cniVersion":"0.4.0"}', asked: '0.4.0' },
    { name: 'with empty stdin', stdin: '', asked: undefined },
    { name: 'with garbage stdin', stdin: 'garbage', asked: undefined },
  ])('VERSION $name needs only CNI_COMMAND', ({ stdin, asked }) => {
    expect(parseRequest({ CNI_COMMAND: 'VERSION' }, stdin)).toEqual({ ok: true, request: { command: 'VERSION', cniVersion: asked } });
  });

  it('DEL accepts anything and records what it could not read', () => {
    const r = parseRequest({ CNI_COMMAND: 'DEL', CNI_ARGS: 'oops' }, 'not json');
    expect(r).toEqual({
      ok: true,
      request: { command: 'DEL', containerId: '', pod: undefined, logLevel: 'info', problems: ['env.CNI_ARGS: "oops" is not KEY=VALUE', expect.stringMatching(/^stdin: not valid JSON/)] },
    });
  });

  it('DEL with a good request has no problems and keeps the log level', () => {
    const r = parseRequest({ ...addEnv, CNI_COMMAND: 'DEL', CNI_NETNS: undefined }, conf({ logLevel: 'debug', prevResult: undefined }));
    expect(r).toMatchObject({ ok: true, request: { command: 'DEL', containerId: 'c0ffee', pod: { namespace: 'app', name: 'web-0' }, logLevel: 'debug', problems: [] } });
  });

  it.each(['STATUS', 'GC'])('%s is accepted', (command) => {
    expect(parseRequest({ CNI_COMMAND: command }, '{"cniVersion":"1.1.0","name":"n"}')).toEqual({ ok: true, request: { command, cniVersion: '1.1.0' } });
  });
});

describe('CNI_ARGS and pod args', () => {
  it.each([
    { text: undefined, args: {} },
    { text: '', args: {} },
    { text: 'A=1;B=2', args: { A: '1', B: '2' } },
    { text: 'A=1;;B=;', args: { A: '1', B: '' } },
    { text: 'A=x=y', args: { A: 'x=y' } },
  ])('parses $text', ({ text, args }) => {
    expect(parseCniArgs(text)).toEqual({ ok: true, args });
  });

  it.each(['A', '=1', 'A=1;B'])('rejects %j', (text) => {
    expect(parseCniArgs(text).ok).toBe(false);
  });

  it.each([
    { args: { K8S_POD_NAMESPACE: 'a', K8S_POD_NAME: 'b' }, pod: { namespace: 'a', name: 'b', uid: '', infraContainerId: '' } },
    { args: { K8S_POD_NAMESPACE: 'a' }, pod: undefined },
    { args: { K8S_POD_NAME: 'b' }, pod: undefined },
    { args: { K8S_POD_NAMESPACE: '', K8S_POD_NAME: 'b' }, pod: undefined },
  ])('podArgs($args)', ({ args, pod }) => {
    expect(podArgs(args as Record<string, string>)).toEqual(pod);
  });

  it.each([
    { name: 'eth0', problem: undefined },
    { name: 'a-very-long-if0', problem: undefined },
    { name: 'a-very-long-if00', problem: 'must be at most 15 characters' },
    { name: '..', problem: 'must not be "." or ".."' },
    { name: 'eth 0', problem: 'must not contain "/", ":" or whitespace' },
    { name: 'eth:0', problem: 'must not contain "/", ":" or whitespace' },
  ])('interface name $name', ({ name, problem }) => {
    expect(ifNameProblem(name)).toBe(problem);
  });
});
