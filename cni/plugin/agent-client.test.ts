import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CmdAddEvent } from '../shared/plugin-event.ts';
import { CMD_ADD_EVENT } from '../shared/test-fixtures.ts';
import { postCmdAdd } from './agent-client.ts';
import { FakeAgent, type FakeAnswer } from './test-agent.ts';

const event: CmdAddEvent = { ...CMD_ADD_EVENT, ips: ['10.250.0.5'] };

describe('agent client (HTTP over a real unix socket)', () => {
  let dir: string;
  let agent: FakeAgent;
  let sock: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ambient-cni-client-'));
    sock = join(dir, 'agent.sock');
    agent = await FakeAgent.start(sock);
  });
  afterAll(async () => {
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    { name: 'captured', answer: { status: 200, body: { captured: true } }, outcome: { kind: 'answered', answer: { captured: true } } },
    { name: 'not captured', answer: { status: 200, body: { captured: false, reason: 'opted out' } }, outcome: { kind: 'answered', answer: { captured: false, reason: 'opted out' } } },
    { name: 'agent error', answer: { status: 503, body: { error: 'ztunnel not connected' } }, outcome: { kind: 'rejected', status: 503, error: 'ztunnel not connected' } },
    { name: 'error without JSON', answer: { status: 500, body: 'boom' }, outcome: { kind: 'rejected', status: 500, error: 'boom' } },
    { name: 'answer without captured', answer: { status: 200, body: { ok: true } }, outcome: { kind: 'invalid', error: 'answer.captured: must be true or false' } },
  ] as { name: string; answer: FakeAnswer; outcome: unknown }[])('$name', async ({ answer, outcome }) => {
    agent.respond = () => answer;
    const before = agent.received.length;
    expect(await postCmdAdd(sock, event, 5000)).toEqual(outcome);
    expect(agent.received.slice(before).map((r) => r.event)).toEqual([event]);
  });

  it('times out when the agent does not answer in time, and says so', async () => {
    let release: (() => void) | undefined;
    agent.respond = () => new Promise<FakeAnswer>((r) => (release = () => r({ status: 200, body: { captured: true } })));
    const started = performance.now();
    expect(await postCmdAdd(sock, event, 300)).toEqual({ kind: 'timeout', afterMs: 300 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    release?.();
  });

  it('no socket file: unreachable, naming the socket', async () => {
    const missing = join(dir, 'nobody.sock');
    const o = await postCmdAdd(missing, event, 5000);
    expect(o).toMatchObject({ kind: 'unreachable', error: expect.stringContaining(`ENOENT ${missing}`) });
  });

  it('a file that is not a listening socket: unreachable', async () => {
    const stale = join(dir, 'stale.sock');
    writeFileSync(stale, '');
    expect(await postCmdAdd(stale, event, 5000)).toMatchObject({ kind: 'unreachable', error: expect.stringContaining('ECONNREFUSED') });
  });
});

describe('agent client against a raw peer', () => {
  let dir: string;
  let server: Server;
  let onConn: (s: Socket) => void = () => {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ambient-cni-raw-'));
    server = createServer((s) => onConn(s));
    await new Promise<void>((r) => server.listen(join(dir, 'raw.sock'), () => r()));
  });
  afterEach(() => {
    onConn = () => {};
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads a chunked answer arriving in pieces', async () => {
    onConn = (s) => {
      s.once('data', () => {
        s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"cap');
        setImmediate(() => s.end('\r\nc\r\ntured":true}\r\n0\r\n\r\n'));
      });
    };
    expect(await postCmdAdd(join(dir, 'raw.sock'), event, 5000)).toEqual({ kind: 'answered', answer: { captured: true } });
  });

  it('a peer that hangs up without answering: unreachable', async () => {
    onConn = (s) => s.once('data', () => s.end());
    expect(await postCmdAdd(join(dir, 'raw.sock'), event, 5000)).toEqual({ kind: 'unreachable', error: 'connection closed without an answer' });
  });

  it('a peer that is not HTTP: invalid', async () => {
    onConn = (s) => s.once('data', () => s.end('hello\r\n\r\n'));
    expect(await postCmdAdd(join(dir, 'raw.sock'), event, 5000)).toEqual({ kind: 'invalid', error: 'bad status line "hello"' });
  });

  it('sends one well-formed POST /cmdadd carrying the event', async () => {
    let raw = '';
    onConn = (s) => {
      s.on('data', (d: Buffer) => {
        raw += d.toString('utf8');
        if (raw.includes('\r\n\r\n') && raw.endsWith('}')) s.end('HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n{"captured":true}');
      });
    };
    await postCmdAdd(join(dir, 'raw.sock'), event, 5000);
    const [head, body] = raw.split('\r\n\r\n');
    expect(head?.split('\r\n')[0]).toBe('POST /cmdadd HTTP/1.1');
    expect(JSON.parse(body!)).toEqual(event);
  });
});
