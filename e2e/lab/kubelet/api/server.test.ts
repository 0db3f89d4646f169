// The kubelet API server on loopback with a stand-in pod (a host-process container: no netns, so
// no root needed): client-certificate checks, WebSocket exec (binary and base64 channels),
// WebSocket port-forward to a local server, and container logs with tail and follow.
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createPki, KUBELET_CLIENT_CN, type LabPki } from '../../pki.ts';
import { pollUntil } from '../../poll.ts';
import type { ContainerTarget, KubeletHost, PodTarget } from './host.ts';
import { startKubeletServer } from './server.ts';

const dir = mkdtempSync(join(tmpdir(), 'kubelet-api-'));
const logPath = join(dir, 'c.log');
let state: ContainerTarget['state'] = { kind: 'running', startedAt: new Date().toISOString() };
// As root, the pod's "netns" is this process's own: exec (nsenter) and port-forward (a socket made
// in the netns by lib/netns) take the pod-netns paths without a namespace to set up.
const netns = process.getuid?.() === 0 ? { netnsPath: '/proc/self/ns/net' } : {};
const pod: PodTarget = { uid: 'u1', namespace: 'ns', name: 'p', containers: ['c'], ...netns };
const host: KubeletHost = {
  findPod: (ns, name) => (ns === 'ns' && name === 'p' ? pod : undefined),
  findContainer: (ns, name, c) => (ns === 'ns' && name === 'p' && c === 'c'
    ? { uid: 'u1', namespace: 'ns', name: 'p', container: 'c', ...netns, env: { PATH: process.env.PATH, WHO: 'container-env' }, cwd: dir, logPath, state, restartCount: 0, commands: {} }
    : undefined),
};

let pki: LabPki;
let port = 0;
let close: () => Promise<void>;
let backend: Server;
let backendPort = 0;

function tlsOpts(client?: string): { ca: Buffer; cert?: Buffer; key?: Buffer } {
  const c = client ? pki.clients[client] : undefined;
  return { ca: readFileSync(pki.caCert), ...(c ? { cert: readFileSync(c.cert), key: readFileSync(c.key) } : {}) };
}

function get(path: string, client?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ...tlsOpts(client) }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function ws(path: string, protocol: string, onOpen?: (w: WebSocket) => void): Promise<{ protocol: string; messages: (Buffer | string)[] }> {
  return new Promise((resolve, reject) => {
    const w = new WebSocket(`wss://127.0.0.1:${port}${path}`, [protocol], tlsOpts(KUBELET_CLIENT_CN));
    const timer = setTimeout(() => {
      w.terminate();
      reject(new Error(`no close from the kubelet within 10 s (${messages.length} messages)`));
    }, 10_000);
    w.on('close', () => clearTimeout(timer));
    const messages: (Buffer | string)[] = [];
    w.on('open', () => onOpen?.(w));
    w.on('message', (d: Buffer, binary) => messages.push(binary ? d : d.toString()));
    w.on('error', reject);
    w.on('close', () => resolve({ protocol: w.protocol, messages }));
  });
}

beforeAll(async () => {
  pki = createPki(join(dir, 'pki'), ['node1'], ['127.0.0.1']);
  const serving = pki.kubeletServing.node1!;
  const s = await startKubeletServer({
    host, port: 0, bindAddress: '127.0.0.1', certFile: serving.cert, keyFile: serving.key, clientCaFile: pki.caCert,
    allowedClients: [KUBELET_CLIENT_CN], log: () => {},
  });
  port = s.port;
  close = s.close;
  backend = createServer((req, res) => res.end(`backend saw ${req.url}`));
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  backendPort = (backend.address() as { port: number }).port;
});

afterAll(async () => {
  await close();
  backend.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('kubelet API server', () => {
  it('refuses callers without the allowed client certificate', async () => {
    expect((await get('/healthz')).status).toBe(401);
    expect((await get('/healthz', 'admin')).status).toBe(403);
    expect(await get('/healthz', KUBELET_CLIENT_CN)).toEqual({ status: 200, body: 'ok' });
    expect((await get('/nope', KUBELET_CLIENT_CN)).status).toBe(404);
    expect((await get('/exec/ns/p/c?command=ls', KUBELET_CLIENT_CN)).status).toBe(400);
    expect((await get('/exec/ns/missing/c?command=ls&output=1', KUBELET_CLIENT_CN)).status).toBe(404);
    expect((await get('/exec/ns/p/c?command=ls&output=1', KUBELET_CLIENT_CN)).body).toMatch(/upgrade/);
  });

  it('exec over WebSocket v4 (binary): stdout, stderr, container env and cwd, exit status', async () => {
    const cmd = ['sh', '-c', 'echo "$WHO $(pwd)"; echo e >&2; exit 5'].map((c) => `command=${encodeURIComponent(c)}`).join('&');
    const r = await ws(`/exec/ns/p/c?${cmd}&output=1&error=1`, 'v4.channel.k8s.io');
    expect(r.protocol).toBe('v4.channel.k8s.io');
    const ch = (n: number) => Buffer.concat(r.messages.filter((m): m is Buffer => Buffer.isBuffer(m) && m[0] === n).map((m) => m.subarray(1))).toString();
    expect(ch(1)).toBe(`container-env ${dir}\n`);
    expect(ch(2)).toBe('e\n');
    expect(JSON.parse(ch(3))).toMatchObject({ reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '5' }] } });
  });

  it('exec over WebSocket base64.channel.k8s.io: text frames, stdin, the old plain-text status', async () => {
    const r = await ws('/exec/ns/p/c?command=head&command=-c&command=3&input=1&output=1', 'base64.channel.k8s.io', (w) => {
      w.send(`0${Buffer.from('abcdef').toString('base64')}`);
    });
    const texts = r.messages.filter((m): m is string => typeof m === 'string');
    const out = texts.filter((t) => t[0] === '1').map((t) => Buffer.from(t.slice(1), 'base64').toString()).join('');
    expect(out).toBe('abc');
    expect(texts.some((t) => t[0] === '3')).toBe(false); // success: nothing on the error channel
  });

  it('port-forward over WebSocket v4: the port header frames, then the data', async () => {
    const r = await ws(`/portForward/ns/p?port=${backendPort}`, 'v4.channel.k8s.io', (w) => {
      w.send(Buffer.concat([Buffer.from([0]), Buffer.from('GET /via-kubelet HTTP/1.0\r\n\r\n')]));
    });
    const data = r.messages.filter((m): m is Buffer => Buffer.isBuffer(m) && m[0] === 0).map((m) => m.subarray(1));
    expect(data[0]?.readUInt16LE(0)).toBe(backendPort);
    expect(Buffer.concat(data.slice(1)).toString()).toContain('backend saw /via-kubelet');
  });

  it('containerLogs: tail, limitBytes, and follow until the container stops', async () => {
    writeFileSync(logPath, 'one\ntwo\nthree\n');
    expect(await get('/containerLogs/ns/p/c?tailLines=2', KUBELET_CLIENT_CN)).toEqual({ status: 200, body: 'two\nthree\n' });
    expect((await get('/containerLogs/ns/p/c?limitBytes=5', KUBELET_CLIENT_CN)).body).toBe('one\nt');
    expect((await get('/containerLogs/ns/p/c?timestamps=true&tailLines=1', KUBELET_CLIENT_CN)).body).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z three\n$/);
    expect((await get('/containerLogs/ns/p/c?previous=true', KUBELET_CLIENT_CN)).status).toBe(400);
    expect((await get('/containerLogs/ns/p/nope', KUBELET_CLIENT_CN)).status).toBe(404);
    let body = '';
    let ended = false;
    let started = false;
    const req = request({ host: '127.0.0.1', port, path: '/containerLogs/ns/p/c?follow=true&tailLines=0', ...tlsOpts(KUBELET_CLIENT_CN) }, (res) => {
      started = true;
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => (ended = true));
    });
    req.end();
    await pollUntil('the follow response to start', () => started, { timeoutMs: 5000 });
    appendFileSync(logPath, 'later\n');
    await pollUntil('the appended line', () => body === 'later\n', { timeoutMs: 5000 });
    expect(ended).toBe(false);
    state = { kind: 'terminated', exitCode: 0, reason: 'Completed', finishedAt: new Date().toISOString() };
    await pollUntil('follow to end with the container', () => ended, { timeoutMs: 5000 });
    state = { kind: 'running', startedAt: new Date().toISOString() };
  });
});
