// istio.workload.zds on the wire: the WorkloadRequest oneof numbers (add 1, del 2, snapshot_sent 3,
// keep 5), DelWorkload.uid being field 2, and the hello/ack messages.
import { describe, expect, it } from 'vitest';
import { workloadRequestCodec, workloadResponseCodec, zdsHelloCodec, ZdsVersion, type WorkloadRequest } from './index.ts';
import { cat, hex, lenField, varintField } from './test-wire.ts';

describe('istio.workload.zds messages', () => {
  it('round-trips every WorkloadRequest variant', () => {
    const variants: WorkloadRequest[] = [
      { payload: { $case: 'add', add: { uid: 'u1', workloadInfo: { name: 'p', namespace: 'ns', serviceAccount: 'sa' } } } },
      { payload: { $case: 'keep', keep: { uid: 'u2' } } },
      { payload: { $case: 'del', del: { uid: 'u3' } } },
      { payload: { $case: 'snapshotSent', snapshotSent: {} } },
    ];
    for (const v of variants) {
      const r = workloadRequestCodec.decode(workloadRequestCodec.encode(v));
      expect(r.ok && r.value).toEqual(v);
    }
  });

  it('uses oneof numbers add=1, del=2, snapshot_sent=3, keep=5 and DelWorkload.uid=2', () => {
    const info = cat(lenField(1, 'pod'), lenField(2, 'ns'), lenField(3, 'sa'));
    const cases: [Buffer, WorkloadRequest][] = [
      [lenField(1, cat(lenField(1, 'u1'), lenField(2, info))), { payload: { $case: 'add', add: { uid: 'u1', workloadInfo: { name: 'pod', namespace: 'ns', serviceAccount: 'sa' } } } }],
      [lenField(2, lenField(2, 'u2')), { payload: { $case: 'del', del: { uid: 'u2' } } }],
      [lenField(3, Buffer.alloc(0)), { payload: { $case: 'snapshotSent', snapshotSent: {} } }],
      [lenField(5, lenField(1, 'u5')), { payload: { $case: 'keep', keep: { uid: 'u5' } } }],
    ];
    for (const [bytes, expected] of cases) {
      const r = workloadRequestCodec.decode(bytes);
      expect(r.ok && r.value).toEqual(expected);
      expect(hex(workloadRequestCodec.encode(expected))).toBe(hex(bytes));
    }
  });

  it('a DelWorkload with its uid in field 1 (a common mistake) decodes with an empty uid', () => {
    const r = workloadRequestCodec.decode(lenField(2, lenField(1, 'u')));
    expect(r.ok && r.value).toEqual({ payload: { $case: 'del', del: { uid: '' } } });
  });

  it('ZdsHello.version is field 1; an unknown future version can be kept', () => {
    expect(hex(zdsHelloCodec.encode({ version: ZdsVersion.V1 }))).toBe('0801');
    expect(zdsHelloCodec.decode(varintField(1, 1))).toEqual({ ok: true, value: { version: 1 } });
    expect(zdsHelloCodec.decode(varintField(1, 2)).ok).toBe(false);
    expect(zdsHelloCodec.decode(varintField(1, 2), { unknownEnums: 'keep' })).toEqual({ ok: true, value: { version: 2 } });
  });

  it('WorkloadResponse.ack is 1 and Ack.error is 1; an empty ack is still a set oneof', () => {
    expect(hex(workloadResponseCodec.encode({ payload: { $case: 'ack', ack: { error: '' } } }))).toBe('0a00');
    expect(hex(workloadResponseCodec.encode({ payload: { $case: 'ack', ack: { error: 'boom' } } }))).toBe(hex(lenField(1, lenField(1, 'boom'))));
    expect(workloadResponseCodec.decode(Buffer.from('0a00', 'hex'))).toEqual({ ok: true, value: { payload: { $case: 'ack', ack: { error: '' } } } });
  });

  it('garbage is MALFORMED, not an exception', () => {
    const r = workloadRequestCodec.decode(Buffer.from([0x0a, 0x10, 0x01]));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.code).toBe('MALFORMED');
  });
});
