// Fuzzing the ZDS datagram codec: arbitrary bytes and mutations of real encoded requests, hellos and
// acks. Decoding never throws; a refusal is a ZdsError with a stable code; whatever is accepted obeys
// Istio's rules (a uid on every workload message, workload_info and exactly one fd on AddWorkload)
// and survives re-encoding unchanged.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzBudget, fuzzParams, wireInput } from '../fuzz/fuzz.ts';
import {
  checkRequestDatagram,
  decodeAck,
  decodeHello,
  decodeRequest,
  encodeAck,
  encodeHello,
  encodeRequest,
  ZDS_MAX_MESSAGE_BYTES,
  ZdsError,
  type ZdsErrorCode,
  type ZdsRequest,
  type ZdsResult,
} from './index.ts';

const budget = fuzzBudget();

const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40, unit: 'binary' }));
const request: fc.Arbitrary<ZdsRequest> = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), uid: text, info: fc.record({ name: text, namespace: text, serviceAccount: text }) }),
  fc.record({ kind: fc.constant('keep' as const), uid: text }),
  fc.record({ kind: fc.constant('del' as const), uid: text }),
  fc.constant({ kind: 'snapshotSent' as const }),
);

const SEEDS: Buffer[] = [
  encodeRequest({ kind: 'add', uid: '4a4c6b2e-8a1e-4d3f-9a6b-0c1d2e3f4a5b', info: { name: 'echo-7d9f', namespace: 'default', serviceAccount: 'echo' } }),
  encodeRequest({ kind: 'keep', uid: 'u-keep' }),
  encodeRequest({ kind: 'del', uid: 'u-del' }),
  encodeRequest({ kind: 'snapshotSent' }),
  encodeHello(),
  encodeAck(),
  encodeAck('failed to start proxy for u1: netns gone'),
];

const DECODE_CODES: readonly ZdsErrorCode[] = ['MESSAGE_TOO_LARGE', 'MALFORMED'];

function expectRefusal<T>(r: ZdsResult<T>, codes: readonly ZdsErrorCode[]): void {
  if (r.ok) return;
  expect(r.error).toBeInstanceOf(ZdsError);
  expect(codes).toContain(r.error.code);
  expect(r.error.message.length).toBeGreaterThan(0);
}

describe('ZDS codec under fuzzing', () => {
  it('decodes or refuses every request datagram, with any fd count, and what it accepts is valid', () => {
    fc.assert(
      fc.property(wireInput(SEEDS, 2 * ZDS_MAX_MESSAGE_BYTES), fc.integer({ min: 0, max: 3 }), (data, fds) => {
        const r = checkRequestDatagram(data, fds);
        expectRefusal(r, [...DECODE_CODES, 'FD_MISSING', 'FD_UNEXPECTED']);
        if (!r.ok) return;
        expect(data.length).toBeLessThanOrEqual(ZDS_MAX_MESSAGE_BYTES);
        const req = r.value;
        if (req.kind === 'add') expect(fds).toBe(1);
        else expect(fds).toBe(0);
        if (req.kind !== 'snapshotSent') expect(req.uid).not.toBe('');
        // What we accepted is what we would have sent: re-encoding gives the same request back.
        expect(decodeRequest(encodeRequest(req))).toEqual({ ok: true, value: req });
      }),
      fuzzParams(budget),
    );
  }, budget.testTimeoutMs);

  it('decodes or refuses every hello and ack', () => {
    fc.assert(
      fc.property(wireInput(SEEDS, 2 * ZDS_MAX_MESSAGE_BYTES), (data) => {
        const h = decodeHello(data);
        expectRefusal(h, DECODE_CODES);
        if (h.ok) expect(Number.isInteger(h.value.version)).toBe(true);
        const a = decodeAck(data);
        expectRefusal(a, DECODE_CODES);
        if (a.ok) expect(typeof a.value.error).toBe('string');
      }),
      fuzzParams(budget),
    );
  }, budget.testTimeoutMs);

  it('round-trips every request that fits a datagram, and refuses the rest with MESSAGE_TOO_LARGE', () => {
    fc.assert(
      fc.property(request, (req) => {
        let wire: Buffer;
        try {
          wire = encodeRequest(req);
        } catch (err) {
          expect(err).toBeInstanceOf(ZdsError);
          expect((err as ZdsError).code).toBe('MESSAGE_TOO_LARGE');
          return;
        }
        const back = decodeRequest(wire);
        if (req.kind !== 'snapshotSent' && req.uid === '') expect(back).toMatchObject({ ok: false, error: { code: 'MALFORMED' } });
        else expect(back).toEqual({ ok: true, value: req });
      }),
      fuzzParams(budget),
    );
  }, budget.testTimeoutMs);

  it('always fits an ack, whatever error text it carries', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 3000, unit: 'binary' }), (error) => {
        const wire = encodeAck(error);
        expect(wire.length).toBeLessThanOrEqual(ZDS_MAX_MESSAGE_BYTES);
        const back = decodeAck(wire);
        expect(back.ok).toBe(true);
        if (back.ok && Buffer.byteLength(error) <= ZDS_MAX_MESSAGE_BYTES - 8) expect(back.value.error).toBe(error);
      }),
      fuzzParams(budget),
    );
  }, budget.testTimeoutMs);
});
