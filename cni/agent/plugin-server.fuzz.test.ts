// Fuzzing the node agent's plugin event socket (HTTP/1.1 on a unix socket): raw byte streams,
// mutations of the real POST the plugin sends, and well-formed POSTs with fuzzed JSON bodies. The
// server never throws; every request it refuses is counted (istio_cni_plugin_events_total
// result="invalid") and only valid events reach handleAdd; a real plugin request is served after.
import { mkdtempSync, rmSync } from 'node:fs';
import type http from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzBudget, fuzzParams, mutatedFrom } from '../../lib/fuzz/fuzz.ts';
import { pollUntil } from '../../lib/hbone/test-fixtures.ts';
import { createLogger } from '../../lib/log/logger.ts';
import { Registry } from '../../lib/metrics/registry.ts';
import { postCmdAdd } from '../plugin/agent-client.ts';
import { renderPost } from '../plugin/http1.ts';
import { CMDADD_PATH, validateCmdAddEvent, type CmdAddEvent } from '../shared/plugin-event.ts';
import { startPluginServer } from './plugin-server.ts';
import { CMD_ADD_EVENT } from '../shared/test-fixtures.ts';

const budget = fuzzBudget(0.5);

const event: CmdAddEvent = { ...CMD_ADD_EVENT, ips: ['10.250.0.5'] };
const REAL_POST = renderPost(CMDADD_PATH, JSON.stringify(event));

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'amt-plugin-fuzz-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `bytes`, then half-closes; resolves with the answer's status line (or '' if none) once closed. */
function exchange(path: string, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ path, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    s.on('error', () => undefined);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1').split('\r\n')[0] ?? ''));
    s.on('connect', () => s.end(bytes));
  });
}

describe('plugin event server under fuzzing', () => {
  it('answers or drops every request, counts each refusal, hands only valid events on, and keeps serving', async () => {
    const path = join(dir, 'pluginevent.sock');
    const events = new Registry().counter('istio_cni_plugin_events_total', 'test', ['result']);
    const handled: CmdAddEvent[] = [];
    let server: http.Server | undefined;
    server = await startPluginServer(path, {
      handleAdd: async (e) => {
        handled.push(e);
        return e.podNamespace === 'app' ? { captured: true } : { captured: false, reason: 'not ambient' };
      },
      log: createLogger({ component: 'plugin-fuzz', level: 'silent' }),
      events,
    });
    try {
      const body = fc.oneof(fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), mutatedFrom([Buffer.from(JSON.stringify(event))]).map((b) => b.toString('latin1')));
      const request = fc.oneof(
        fc.uint8Array({ maxLength: 600 }).map((b) => ({ bytes: Buffer.from(b), body: undefined })),
        mutatedFrom([REAL_POST], 6).map((bytes) => ({ bytes, body: undefined })),
        body.map((b) => ({ bytes: renderPost(CMDADD_PATH, b), body: b })),
      );
      await fc.assert(
        fc.asyncProperty(request, async ({ bytes, body: sentBody }) => {
          const invalidBefore = events.get({ result: 'invalid' });
          const handledBefore = handled.length;
          const status = await exchange(path, bytes);
          // Whatever was handed on is a valid event (a valid request followed by garbage is handled,
          // and then its connection is cut for the garbage).
          for (const e of handled.slice(handledBefore)) expect(validateCmdAddEvent(e).ok).toBe(true);
          if (status === 'HTTP/1.1 400 Bad Request' || status === '') {
            // Refused (400) or cut off as malformed HTTP: counted either way. (Blank lines before a
            // request are allowed by HTTP/1.1: a stream of only CR/LF is no request at all.)
            if (status !== '' || bytes.some((b) => b !== 0x0d && b !== 0x0a)) await pollUntil(() => events.get({ result: 'invalid' }) > invalidBefore, 'the refusal to be counted', 2000);
            return;
          }
          expect(status).toBe('HTTP/1.1 200 OK');
          expect(handled.length).toBe(handledBefore + 1);
          expect(validateCmdAddEvent(handled.at(-1)).ok).toBe(true);
          if (sentBody !== undefined) expect(validateCmdAddEvent(JSON.parse(sentBody)).ok).toBe(true);
        }),
        fuzzParams(budget, { hangMs: 10_000 }),
      );
      expect(events.get({ result: 'invalid' })).toBeGreaterThan(0);
      // The real plugin client still gets its answer.
      expect(await postCmdAdd(path, event, 5000)).toEqual({ kind: 'answered', answer: { captured: true } });
    } finally {
      await new Promise<void>((r) => server!.close(() => r()));
      server = undefined;
    }
  }, budget.testTimeoutMs + 30_000);
});
