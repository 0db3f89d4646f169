// The kubelet API's pure decisions: routes, caller authorization, query parsing, exec statuses,
// log tails, port headers and WebSocket subprotocols.
import { describe, expect, it } from 'vitest';
import { errorStreamBytes, execStatus, parseExecOptions, resolveCommand, shellQuote } from './exec.ts';
import { parseLogOptions, tailOffset } from './logs.ts';
import { requestIdOf, streamPort } from './port-forward.ts';
import { authorize, route } from './server.ts';
import { parseWebSocketPorts, pickSubprotocol, WS_EXEC_PROTOCOLS } from './websocket.ts';

const q = (s: string) => new URLSearchParams(s);

describe('route', () => {
  it.each([
    ['GET', '/healthz', { kind: 'healthz' }],
    ['POST', '/exec/ns/p/c', { kind: 'exec', namespace: 'ns', pod: 'p', container: 'c' }],
    ['GET', '/exec/ns/p/uid1/c', { kind: 'exec', namespace: 'ns', pod: 'p', uid: 'uid1', container: 'c' }],
    ['POST', '/portForward/ns/p', { kind: 'portForward', namespace: 'ns', pod: 'p' }],
    ['GET', '/containerLogs/ns/p/c', { kind: 'containerLogs', namespace: 'ns', pod: 'p', container: 'c' }],
    ['DELETE', '/exec/ns/p/c', { kind: 'methodNotAllowed', allowed: ['GET', 'POST'] }],
    ['GET', '/exec/ns/p', { kind: 'notFound' }],
    ['GET', '/pods', { kind: 'notFound' }],
    ['GET', '/exec/ns/%zz/c', { kind: 'bad', message: 'malformed path "/exec/ns/%zz/c"' }],
  ])('%s %s', (method, path, want) => {
    expect(route(method, path)).toEqual(want);
  });
});

describe('authorize', () => {
  const allowed = ['kube-apiserver-kubelet-client'];
  it('needs a verified certificate, then the allowed CN', () => {
    expect(authorize({ authorized: false, error: 'no certificate presented' }, allowed, 'GET', '/healthz')).toMatchObject({ kind: 'deny', status: 401 });
    expect(authorize({ authorized: false, cn: 'kube-apiserver-kubelet-client', error: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, allowed, 'GET', '/')).toMatchObject({ kind: 'deny', status: 401 });
    expect(authorize({ authorized: true, cn: 'kubernetes-admin' }, allowed, 'GET', '/x')).toEqual({ kind: 'deny', status: 403, message: 'Forbidden (user=kubernetes-admin, verb=GET, path=/x)' });
    expect(authorize({ authorized: true, cn: 'kube-apiserver-kubelet-client' }, allowed, 'GET', '/')).toEqual({ kind: 'ok', user: 'kube-apiserver-kubelet-client' });
  });
});

describe('exec', () => {
  it('reads the query as the kubelet does', () => {
    expect(parseExecOptions(q('command=sh&command=-c&command=true&output=1&error=1'))).toEqual({ command: ['sh', '-c', 'true'], stdin: false, stdout: true, stderr: true, tty: false });
    expect(parseExecOptions(q('command=sh&input=1&error=1&tty=1'))).toEqual({ command: ['sh'], stdin: true, stdout: false, stderr: false, tty: true });
    expect(parseExecOptions(q('command=sh'))).toEqual({ error: 'you must specify at least 1 of stdin, stdout, stderr' });
    expect(parseExecOptions(q('output=1'))).toMatchObject({ error: expect.stringMatching(/command/) });
  });

  it('reports exit codes as the kubelet does', () => {
    expect(execStatus({ kind: 'exited', code: 0 }, ['true'])).toEqual({ metadata: {}, status: 'Success' });
    const failed = execStatus({ kind: 'exited', code: 3 }, ['sh', '-c', 'exit 3']);
    expect(failed).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } });
    expect(errorStreamBytes('v4.channel.k8s.io', failed).toString()).toContain('"reason":"NonZeroExitCode"');
    expect(errorStreamBytes('v3.channel.k8s.io', failed).toString()).toBe('command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3');
    expect(errorStreamBytes('v3.channel.k8s.io', execStatus({ kind: 'exited', code: 0 }, ['true'])).length).toBe(0);
    expect(execStatus({ kind: 'failed', message: 'boom' }, ['x'])).toMatchObject({ reason: 'InternalError', code: 500 });
  });

  it('quotes words for the TTY wrapper', () => {
    expect(['sh', '-c', "echo 'a b'; exit 3"].map(shellQuote).join(' ')).toBe(`sh -c 'echo '\\''a b'\\''; exit 3'`);
  });

  it('finds catalogue commands first, then host binaries on PATH', () => {
    expect(resolveCommand(['client', '--x'], { client: 'e2e/lab/images/x.ts' }, '/bin')).toEqual({ argv: [process.execPath, expect.stringMatching(/\/e2e\/lab\/images\/x\.ts$/), '--x'] });
    expect(resolveCommand(['sh', '-c', 'true'], {}, '/nonexistent:/bin:/usr/bin')).toEqual({ argv: [expect.stringMatching(/\/sh$/), '-c', 'true'] });
    expect(resolveCommand(['no-such-thing'], {}, '/bin')).toEqual({ error: 'exec: "no-such-thing": executable file not found in $PATH' });
  });
});

describe('containerLogs', () => {
  it('decodes and validates PodLogOptions', () => {
    expect(parseLogOptions(q('follow=true&tailLines=10&timestamps=1'))).toEqual({ follow: true, timestamps: true, previous: false, tailLines: 10 });
    expect(parseLogOptions(q('tail=all'))).toEqual({ follow: false, timestamps: false, previous: false });
    expect(parseLogOptions(q('tail=2'))).toMatchObject({ tailLines: 2 });
    expect(parseLogOptions(q('follow=maybe'))).toMatchObject({ status: 400 });
    expect(parseLogOptions(q('tailLines=-1'))).toMatchObject({ status: 422 });
    expect(parseLogOptions(q('limitBytes=0'))).toMatchObject({ status: 422 });
    expect(parseLogOptions(q('sinceSeconds=5&sinceTime=2020-01-01T00:00:00Z'))).toMatchObject({ status: 422 });
  });

  it('finds where the last n lines start', () => {
    const t = Buffer.from('a\nb\nc\n');
    expect(t.subarray(tailOffset(t, 1)).toString()).toBe('c\n');
    expect(t.subarray(tailOffset(t, 2)).toString()).toBe('b\nc\n');
    expect(tailOffset(t, 10)).toBe(0);
    expect(tailOffset(t, 0)).toBe(t.length);
    const open = Buffer.from('a\nb');
    expect(open.subarray(tailOffset(open, 1)).toString()).toBe('b');
  });
});

describe('port-forward headers', () => {
  it('validates the port and pairs streams', () => {
    expect(streamPort({ port: '8080' })).toBe(8080);
    expect(streamPort({})).toEqual({ error: '"port" header is required' });
    expect(streamPort({ port: 'x' })).toEqual({ error: 'unable to parse "x" as a port' });
    expect(streamPort({ port: '0' })).toEqual({ error: 'port "0" must be > 0' });
    expect(requestIdOf({ id: 5, headers: { requestid: '7' } })).toBe('7');
    expect(requestIdOf({ id: 1, headers: { streamtype: 'error' } })).toBe('1');
    expect(requestIdOf({ id: 3, headers: { streamtype: 'data' } })).toBe('1');
  });

  it('reads WebSocket ports and subprotocols', () => {
    expect(parseWebSocketPorts(q('port=80,81&port=90'))).toEqual([80, 81, 90]);
    expect(parseWebSocketPorts(q(''))).toEqual({ error: 'query parameter "port" is required' });
    expect(parseWebSocketPorts(q('port=0'))).toEqual({ error: 'port "0" must be > 0' });
    expect(pickSubprotocol(undefined, WS_EXEC_PROTOCOLS)).toEqual({ protocol: '' });
    expect(pickSubprotocol('v5.channel.k8s.io, v4.channel.k8s.io', WS_EXEC_PROTOCOLS)).toEqual({ protocol: 'v4.channel.k8s.io' });
    expect(pickSubprotocol('nope', WS_EXEC_PROTOCOLS)).toMatchObject({ error: expect.stringMatching(/not supported/) });
  });
});
