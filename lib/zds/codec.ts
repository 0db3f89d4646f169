// ZDS message codec: the protobuf messages of istio.workload.zds as one datagram each, with the
// 1 KiB limit Istio's peers hold each other to, and the request payload as a friendlier union.
import { workloadRequestCodec, workloadResponseCodec, zdsHelloCodec, ZdsVersion, type WorkloadRequest, type ZdsWorkloadInfo } from '../proto/index.ts';
import { ZdsError } from './errors.ts';

/** Both Istio peers read datagrams into a 1024-byte buffer; anything longer is an error there. */
export const ZDS_MAX_MESSAGE_BYTES = 1024;

export type { ZdsWorkloadInfo };

/** What the node agent asks of ztunnel. `add` travels with the pod's netns fd. */
export type ZdsRequest =
  | { kind: 'add'; uid: string; info: ZdsWorkloadInfo }
  | { kind: 'keep'; uid: string }
  | { kind: 'del'; uid: string }
  | { kind: 'snapshotSent' };

export type ZdsResult<T> = { ok: true; value: T } | { ok: false; error: ZdsError };

function fail<T>(code: ZdsError['code'], message: string, cause?: unknown): ZdsResult<T> {
  return { ok: false, error: new ZdsError(code, message, cause === undefined ? undefined : { cause }) };
}

function limitCheck<T>(what: string, data: Uint8Array): ZdsResult<T> | undefined {
  if (data.length > ZDS_MAX_MESSAGE_BYTES) return fail('MESSAGE_TOO_LARGE', `${what}: ${data.length} bytes > ${ZDS_MAX_MESSAGE_BYTES}`);
  return undefined;
}

function toBuffer(what: string, bytes: Uint8Array): Buffer {
  if (bytes.length > ZDS_MAX_MESSAGE_BYTES) {
    throw new ZdsError('MESSAGE_TOO_LARGE', `${what}: encodes to ${bytes.length} bytes > ${ZDS_MAX_MESSAGE_BYTES}`);
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The hello ztunnel sends first on every connection; we speak V1, the only version there is. */
export function encodeHello(): Buffer {
  return toBuffer('ZdsHello', zdsHelloCodec.encode({ version: ZdsVersion.V1 }));
}

/** A version we do not know is still a hello (a newer ztunnel); the caller decides what to do. */
export function decodeHello(data: Uint8Array): ZdsResult<{ version: number }> {
  const big = limitCheck<{ version: number }>('ZdsHello', data);
  if (big) return big;
  const r = zdsHelloCodec.decode(data, { unknownEnums: 'keep' });
  if (!r.ok) return fail('MALFORMED', `ZdsHello: ${r.error.message}`, r.error);
  return { ok: true, value: { version: r.value.version } };
}

/** Throws ZdsError MESSAGE_TOO_LARGE if the request does not fit one datagram (e.g. absurd names). */
export function encodeRequest(req: ZdsRequest): Buffer {
  return toBuffer(`WorkloadRequest(${req.kind})`, workloadRequestCodec.encode(toProto(req)));
}

function toProto(req: ZdsRequest): WorkloadRequest {
  switch (req.kind) {
    case 'add':
      return { payload: { $case: 'add', add: { uid: req.uid, workloadInfo: req.info } } };
    case 'keep':
      return { payload: { $case: 'keep', keep: { uid: req.uid } } };
    case 'del':
      return { payload: { $case: 'del', del: { uid: req.uid } } };
    case 'snapshotSent':
      return { payload: { $case: 'snapshotSent', snapshotSent: {} } };
  }
}

/**
 * Decodes and validates a request: a payload must be set, and every workload message must name a
 * uid (ztunnel keys its proxies by it); AddWorkload must carry workload_info (ztunnel refuses it
 * otherwise, since that is how it finds the pod's WDS record).
 */
export function decodeRequest(data: Uint8Array): ZdsResult<ZdsRequest> {
  const big = limitCheck<ZdsRequest>('WorkloadRequest', data);
  if (big) return big;
  const r = workloadRequestCodec.decode(data);
  if (!r.ok) return fail('MALFORMED', `WorkloadRequest: ${r.error.message}`, r.error);
  const p = r.value.payload;
  if (!p) return fail('MALFORMED', 'WorkloadRequest: no payload (empty or unknown message type)');
  switch (p.$case) {
    case 'add':
      if (!p.add.uid) return fail('MALFORMED', 'WorkloadRequest.add.uid: empty');
      if (!p.add.workloadInfo) return fail('MALFORMED', `WorkloadRequest.add.workloadInfo: missing for ${p.add.uid}`);
      return { ok: true, value: { kind: 'add', uid: p.add.uid, info: p.add.workloadInfo } };
    case 'keep':
      if (!p.keep.uid) return fail('MALFORMED', 'WorkloadRequest.keep.uid: empty');
      return { ok: true, value: { kind: 'keep', uid: p.keep.uid } };
    case 'del':
      if (!p.del.uid) return fail('MALFORMED', 'WorkloadRequest.del.uid: empty');
      return { ok: true, value: { kind: 'del', uid: p.del.uid } };
    case 'snapshotSent':
      return { ok: true, value: { kind: 'snapshotSent' } };
  }
}

/** Ack framing around the error text: two tags and two length varints (≤ 2 bytes each), rounded up. */
const ACK_OVERHEAD = 8;

/**
 * An Ack; `error` empty means success. A long error is cut so the Ack always fits one datagram:
 * a NACK that cannot be sent would leave the agent waiting for its deadline.
 */
export function encodeAck(error = ''): Buffer {
  const budget = ZDS_MAX_MESSAGE_BYTES - ACK_OVERHEAD;
  let text = error;
  if (Buffer.byteLength(text) > budget) {
    const ellipsis = '…';
    let cut = Buffer.from(text).subarray(0, budget - Buffer.byteLength(ellipsis)).toString('utf8');
    // A cut inside a character decodes as U+FFFD, which may be longer than the bytes it replaced.
    while (Buffer.byteLength(cut) > budget - Buffer.byteLength(ellipsis)) cut = cut.slice(0, -1);
    text = cut + ellipsis;
  }
  return toBuffer('Ack', workloadResponseCodec.encode({ payload: { $case: 'ack', ack: { error: text } } }));
}

export function decodeAck(data: Uint8Array): ZdsResult<{ error: string }> {
  const big = limitCheck<{ error: string }>('WorkloadResponse', data);
  if (big) return big;
  const r = workloadResponseCodec.decode(data);
  if (!r.ok) return fail('MALFORMED', `WorkloadResponse: ${r.error.message}`, r.error);
  const p = r.value.payload;
  if (!p) return fail('MALFORMED', 'WorkloadResponse: no payload (empty or unknown message type)');
  return { ok: true, value: { error: p.ack.error } };
}

/**
 * A request datagram as ztunnel receives it: decoded, with Istio's fd rules applied (AddWorkload
 * carries exactly one fd, nothing else carries any). Pure: the caller owns and closes the fds.
 */
export function checkRequestDatagram(data: Uint8Array, fdCount: number): ZdsResult<ZdsRequest> {
  const r = decodeRequest(data);
  if (!r.ok) return r;
  if (r.value.kind === 'add') {
    if (fdCount === 0) return fail('FD_MISSING', `AddWorkload ${r.value.uid}: no netns fd attached`);
    if (fdCount > 1) return fail('FD_UNEXPECTED', `AddWorkload ${r.value.uid}: ${fdCount} fds attached, expected 1`);
  } else if (fdCount > 0) {
    return fail('FD_UNEXPECTED', `${r.value.kind}: ${fdCount} fd(s) attached to a message that takes none`);
  }
  return r;
}
