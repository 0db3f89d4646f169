// Fuzzing the plugin's HTTP/1.1 response parser (the agent's answer on the plugin event socket):
// arbitrary bytes and mutations of real answers (Content-Length, chunked, close-delimited, 100
// Continue first). It never throws, and it is incremental: fed any prefix it says incomplete or
// gives the answer it gives for the whole, so a response split across reads parses the same.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzBudget, fuzzParams, wireInput } from '../../lib/fuzz/fuzz.ts';
import { MAX_RESPONSE_BYTES, parseResponse } from './http1.ts';

const budget = fuzzBudget();

const body = '{"captured":true}';
const SEEDS = [
  `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"cap\r\nc;ext=1\r\ntured":true}\r\n0\r\n\r\n`,
  'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\n{"error":"capturing failed"}',
  'HTTP/1.0 204 No Content\r\n\r\n',
].map((s) => Buffer.from(s, 'latin1'));

describe('plugin HTTP/1.1 response parser under fuzzing', () => {
  it('parses or refuses every response, the same whether it arrives whole or cut at any point', () => {
    fc.assert(
      fc.property(wireInput(SEEDS, 1024), fc.nat(), fc.boolean(), (buf, cutAt, ended) => {
        const whole = parseResponse(buf, ended);
        if (whole.kind === 'invalid') expect(whole.error.length).toBeGreaterThan(0);
        if (whole.kind === 'complete') {
          expect(whole.status).toBeGreaterThanOrEqual(200);
          expect(whole.status).toBeLessThanOrEqual(999);
        }
        if (buf.length === 0) return;
        // Before the end of the stream, a prefix is either not decided yet or decided the same way.
        const prefix = parseResponse(buf.subarray(0, cutAt % buf.length), false);
        if (prefix.kind === 'complete' && whole.kind === 'complete') expect(prefix).toEqual(whole);
        if (prefix.kind === 'complete') expect(whole.kind).not.toBe('incomplete');
      }),
      fuzzParams(budget),
    );
  }, budget.testTimeoutMs);

  it('refuses a response larger than the limit instead of buffering it', () => {
    expect(parseResponse(Buffer.alloc(MAX_RESPONSE_BYTES + 1, 0x41), false)).toMatchObject({ kind: 'invalid' });
  });
});
