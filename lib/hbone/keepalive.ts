// HTTP/2 keepalive for HBONE connections (fact sheet §1.3): PING every interval; a PING not
// acknowledged within the timeout tears the connection down. Node has no built-in equivalent.
import type { Http2Session } from 'node:http2';
import { HboneError } from './errors.ts';
import type { KeepaliveOptions } from './settings.ts';

/** Starts pinging; stops by itself when the session closes. Returns a stop function. */
export function startKeepalive(session: Http2Session, opts: KeepaliveOptions): () => void {
  let deadline: NodeJS.Timeout | undefined;
  const interval = setInterval(() => {
    if (deadline || session.destroyed || session.closed) return;
    const sent = session.ping((err) => {
      clearTimeout(deadline);
      deadline = undefined;
      void err; // a failed ping means the session is closing; its own events report that.
    });
    if (!sent) return;
    deadline = setTimeout(() => {
      session.destroy(new HboneError('HBONE_KEEPALIVE_TIMEOUT', `no PING ack within ${opts.timeoutMs} ms; peer unresponsive`));
    }, opts.timeoutMs);
    deadline.unref();
  }, opts.intervalMs);
  interval.unref();
  const stop = (): void => {
    clearInterval(interval);
    clearTimeout(deadline);
    deadline = undefined;
  };
  session.once('close', stop);
  return stop;
}
