// Reads the first bytes of a tunnel until protocol-detect decides (or the bounded wait runs out,
// then it is tcp), and puts the bytes back so the chosen codec reads them from the start.
import type { Duplex } from 'node:stream';
import { detectProtocol, MAX_INSPECT_BYTES } from './protocol-detect.ts';
import type { SniffedProtocol } from './filter-chain-match.ts';

export const DEFAULT_DETECTION_TIMEOUT_MS = 5_000;

export function sniffProtocol(s: Duplex, timeoutMs = DEFAULT_DETECTION_TIMEOUT_MS): Promise<SniffedProtocol> {
  return new Promise((resolve) => {
    let buf: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (p: SniffedProtocol): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.off('data', onData).off('end', onEnd).off('close', onEnd);
      s.pause();
      if (buf.length > 0 && !s.destroyed && !s.readableEnded) s.unshift(buf);
      resolve(p);
    };
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const r = detectProtocol(buf);
      if (r !== 'need-more') finish(r);
      else if (buf.length >= MAX_INSPECT_BYTES) finish('tcp');
    };
    const onEnd = (): void => {
      const r = detectProtocol(buf);
      finish(r === 'need-more' ? 'tcp' : r);
    };
    const timer = setTimeout(() => finish('tcp'), timeoutMs);
    timer.unref();
    s.on('data', onData).once('end', onEnd).once('close', onEnd);
  });
}
