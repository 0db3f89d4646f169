// ZDS codec: request variants, Istio's validation rules, the 1 KiB datagram limit, Ack truncation
// and the fd rules for received requests.
import { describe, expect, it } from 'vitest';
import { lenField, varintField } from '../proto/test-wire.ts';
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
  type ZdsRequest,
} from './index.ts';

const info = { name: 'echo-1', namespace: 'default', serviceAccount: 'echo' };

describe('requests', () => {
  it('round-trip every variant', () => {
    const all: ZdsRequest[] = [
      { kind: 'add', uid: 'u1', info },
      { kind: 'keep', uid: 'u2' },
      { kind: 'del', uid: 'u3' },
      { kind: 'snapshotSent' },
    ];
    for (const r of all) expect(decodeRequest(encodeRequest(r))).toEqual({ ok: true, value: r });
  });

  it('reject an empty datagram and unknown payloads as MALFORMED (no payload)', () => {
    const empty = decodeRequest(Buffer.alloc(0));
    expect(!empty.ok && empty.error.code).toBe('MALFORMED');
    expect(!empty.ok && empty.error.message).toMatch(/no payload/);
    const future = decodeRequest(lenField(9, lenField(1, 'x')));
    expect(!future.ok && future.error.code).toBe('MALFORMED');
  });

  it('reject workload messages without a uid, and AddWorkload without workload_info', () => {
    expect(decodeRequest(lenField(2, Buffer.alloc(0)))).toMatchObject({ ok: false, error: { code: 'MALFORMED' } });
    const noInfo = decodeRequest(lenField(1, lenField(1, 'u1')));
    expect(!noInfo.ok && noInfo.error.message).toMatch(/workloadInfo: missing for u1/);
  });

  it('refuse to encode a request over 1 KiB, and to decode one', () => {
    const huge: ZdsRequest = { kind: 'add', uid: 'u', info: { ...info, name: 'x'.repeat(2000) } };
    expect(() => encodeRequest(huge)).toThrow(ZdsError);
    expect(() => encodeRequest(huge)).toThrow(expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' }));
    const big = decodeRequest(Buffer.alloc(ZDS_MAX_MESSAGE_BYTES + 1));
    expect(!big.ok && big.error.code).toBe('MESSAGE_TOO_LARGE');
  });

  it('garbage decodes to MALFORMED rather than throwing', () => {
    expect(decodeRequest(Buffer.from([0xff, 0xff, 0xff]))).toMatchObject({ ok: false, error: { code: 'MALFORMED' } });
  });
});

describe('fd rules of a received request', () => {
  const add = encodeRequest({ kind: 'add', uid: 'u1', info });
  const del = encodeRequest({ kind: 'del', uid: 'u1' });

  it('AddWorkload needs exactly one fd', () => {
    expect(checkRequestDatagram(add, 1)).toEqual({ ok: true, value: { kind: 'add', uid: 'u1', info } });
    expect(checkRequestDatagram(add, 0)).toMatchObject({ ok: false, error: { code: 'FD_MISSING' } });
    expect(checkRequestDatagram(add, 2)).toMatchObject({ ok: false, error: { code: 'FD_UNEXPECTED' } });
  });

  it('no other message may carry fds', () => {
    expect(checkRequestDatagram(del, 0).ok).toBe(true);
    expect(checkRequestDatagram(del, 1)).toMatchObject({ ok: false, error: { code: 'FD_UNEXPECTED' } });
  });
});

describe('hello and ack', () => {
  it('hello is V1 by default and a future version still decodes', () => {
    expect(decodeHello(encodeHello())).toEqual({ ok: true, value: { version: 1 } });
    expect(decodeHello(varintField(1, 7))).toEqual({ ok: true, value: { version: 7 } });
    expect(decodeHello(Buffer.from([0x08]))).toMatchObject({ ok: false, error: { code: 'MALFORMED' } });
  });

  it('ack round-trips success and error', () => {
    expect(decodeAck(encodeAck())).toEqual({ ok: true, value: { error: '' } });
    expect(decodeAck(encodeAck('port 15001 in use'))).toEqual({ ok: true, value: { error: 'port 15001 in use' } });
    expect(decodeAck(Buffer.alloc(0))).toMatchObject({ ok: false, error: { code: 'MALFORMED' } });
  });

  it('cuts a long error so the ack still fits one datagram', () => {
    for (const unit of ['e', 'é', '€', '𝄞']) {
      const bytes = encodeAck(unit.repeat(3000));
      expect(bytes.length).toBeLessThanOrEqual(ZDS_MAX_MESSAGE_BYTES);
      const r = decodeAck(bytes);
      expect(r.ok && r.value.error.endsWith('…')).toBe(true);
      expect(r.ok && r.value.error.startsWith(unit.repeat(10))).toBe(true);
    }
  });
});
