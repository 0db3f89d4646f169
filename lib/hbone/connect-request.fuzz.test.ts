// Fuzzing the CONNECT request validation (fact sheet §1.2): whatever headers a peer sends, the
// decision is a tunnel or a 400, never a throw; a tunnel is only granted to classic CONNECT with a
// well-formed authority; and the authority parser agrees with its formatter.
import { isIP } from 'node:net';
import fc from 'fast-check';
import type { IncomingHttpHeaders } from 'node:http2';
import { describe, expect, it } from 'vitest';
import { fuzzBudget, fuzzParams, textInput } from '../fuzz/fuzz.ts';
import { authorityToString, formatAuthority, parseAuthority } from './authority.ts';
import { decideConnect } from './connect-request.ts';

const budget = fuzzBudget();

const AUTHORITY_SEEDS = ['10.0.0.1:80', '[fd00::1]:8080', 'svc.ns.svc.cluster.local:80', '255.255.255.255:65535', '[::ffff:1.2.3.4]:1', 'a:1'];

/** Authorities near and far from valid ones. */
const authorityText = fc.oneof(
  textInput(AUTHORITY_SEEDS, 80),
  fc.tuple(fc.ipV4(), fc.integer({ min: -1, max: 70000 })).map(([ip, p]) => `${ip}:${p}`),
  fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 65536 })).map(([ip, p]) => `[${ip}]:${p}`),
  fc.tuple(fc.domain(), fc.integer({ min: 0, max: 65536 })).map(([h, p]) => `${h}:${p}`),
);

const headerValue = fc.oneof(fc.string({ maxLength: 80, unit: 'binary' }), fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }));

/** What node:http2 can hand the server: pseudo-headers and HBONE headers with any value shape. */
const headers: fc.Arbitrary<IncomingHttpHeaders> = fc
  .record(
    {
      ':method': fc.oneof(fc.constantFrom('CONNECT', 'GET', 'POST', 'connect', ''), fc.string({ maxLength: 10 })),
      ':authority': authorityText,
      ':protocol': fc.constantFrom('websocket', 'connect-tcp', ''),
      ':path': fc.string({ maxLength: 20 }),
      ':scheme': fc.constantFrom('https', 'http'),
      baggage: headerValue,
      forwarded: headerValue,
      traceparent: fc.oneof(headerValue, fc.string({ minLength: 55, maxLength: 55 })),
      'x-forwarded-network': headerValue,
    },
    { requiredKeys: [] },
  )
  .map((h) => h as IncomingHttpHeaders);

describe('decideConnect under fuzzing', () => {
  it('answers every header set with a tunnel or a 400 with a reason, and tunnels only valid CONNECTs', () => {
    fc.assert(
      fc.property(headers, fc.boolean(), (h, allowHostname) => {
        const d = decideConnect(h, { allowHostnameAuthority: allowHostname });
        if (d.kind === 'reject') {
          expect(d.status).toBe(400);
          expect(d.reason.length).toBeGreaterThan(0);
          return;
        }
        expect(h[':method']).toBe('CONNECT');
        expect(h[':protocol']).toBeUndefined();
        expect(d.rawAuthority).toBe(h[':authority']);
        if (d.authority.kind === 'hostname') expect(allowHostname).toBe(true);
        else expect(isIP(d.authority.ip)).toBe(d.authority.family);
        expect(d.authority.port).toBeGreaterThanOrEqual(1);
        expect(d.authority.port).toBeLessThanOrEqual(65535);
        // Only the headers HBONE defines pass on, as single strings.
        for (const v of Object.values(d.headers)) expect(typeof v).toBe('string');
        if (d.headers.traceparent !== undefined) expect(d.headers.traceparent).toHaveLength(55);
      }),
      fuzzParams(budget),
    );
  }, budget.testTimeoutMs);

  it('parses every authority it accepts back to itself after formatting', () => {
    fc.assert(
      fc.property(authorityText, (text) => {
        const r = parseAuthority(text);
        if (r.kind === 'error') {
          expect(r.reason).toContain('authority');
          return;
        }
        const again = parseAuthority(authorityToString(r.authority));
        expect(again).toEqual(r);
      }),
      fuzzParams(budget),
    );
  }, budget.testTimeoutMs);

  it('accepts every ip:port and [ipv6]:port the formatter writes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 1, max: 65535 }), (ip, port) => {
        const d = decideConnect({ ':method': 'CONNECT', ':authority': formatAuthority(ip, port) });
        expect(d).toMatchObject({ kind: 'tunnel', authority: { kind: 'ip', ip, port } });
      }),
      fuzzParams(budget),
    );
  }, budget.testTimeoutMs);
});
