// ztunnel's side of ZDS: connect to the node agent's socket (INPOD_UDS), say hello, take the pods it
// announces (netns fd via SCM_RIGHTS), answer every request with an Ack, and reconnect with
// exponential backoff when the agent goes away. Requests are handled one at a time, in order, and
// the consumer (the workload manager) is told what to start and stop. A request we cannot use is
// logged, counted and answered with an error; the connection stays unless the agent broke the
// snapshot protocol, in which case we reconnect for a fresh snapshot.
import { EventEmitter } from 'node:events';
import { createLogger, type Logger } from '../../../lib/log/logger.ts';
import { closeFd, isNetns, SeqpacketSocket, type NetnsError, type SeqpacketMessage } from '../../../lib/netns/index.ts';
import { checkRequestDatagram, encodeAck, encodeHello, ZDS_MAX_MESSAGE_BYTES, ZdsError, type ZdsWorkloadInfo } from '../../../lib/zds/index.ts';
import type { Backoff } from '../../../lib/retry/backoff.ts';
import { zdsBackoff, type BackoffOptions } from './backoff.ts';
import { ZdsSession } from './zds-session.ts';

/** Who acts on the pods; a throw or rejection is answered to the agent as an error Ack. */
export interface ZdsConsumer {
  /** Start the pod's proxy. Takes ownership of `netnsFd`, also when it throws. */
  onAdd(uid: string, info: ZdsWorkloadInfo, netnsFd: number): void | Promise<void>;
  /** Stop the pod's proxy (also called for uids it may not know: must be idempotent). */
  onDel(uid: string): void | Promise<void>;
  /** A snapshot was fully applied (on every connection, not only the first). */
  onSnapshotDone(): void | Promise<void>;
}

export interface ZdsClientOptions {
  /** The agent's socket: env INPOD_UDS, default /var/run/ztunnel/ztunnel.sock. */
  path: string;
  consumer: ZdsConsumer;
  log?: Logger;
  /** Reconnect delays; Istio: 10 ms doubling to 15 s. */
  backoff?: BackoffOptions;
  /** Check that each received fd is a network namespace (ioctl NS_GET_NSTYPE). Default true. */
  checkNetns?: boolean;
}

export type ZdsClientState = 'idle' | 'connected' | 'backoff' | 'closed';

const TRANSITIONS: Record<ZdsClientState, readonly ZdsClientState[]> = {
  idle: ['connected', 'backoff', 'closed'],
  connected: ['backoff', 'closed'],
  backoff: ['connected', 'backoff', 'closed'],
  closed: [],
};

export interface ZdsClientStats {
  connects: number;
  connectFailures: number;
  disconnects: number;
  /** Requests received (well-formed or not). */
  messages: number;
  /** Requests refused as malformed or out of protocol (see the 'rejected' event). */
  rejected: number;
  /** Requests the consumer failed to carry out (answered with an error). */
  consumerErrors: number;
  snapshots: number;
}

type ClientEvents = {
  connected: [];
  disconnected: [reason: string];
  /** A snapshot was applied; `ready` is now true. */
  ready: [];
  /** A request was refused (malformed, bad fds, out of protocol). */
  rejected: [error: ZdsError];
  /** The consumer failed on a request; the agent got `message` as the Ack error. */
  consumerError: [uid: string | undefined, message: string];
};

export class ZdsClient extends EventEmitter<ClientEvents> {
  readonly path: string;
  readonly #consumer: ZdsConsumer;
  readonly #log: Logger;
  readonly #backoff: Backoff;
  readonly #checkNetns: boolean;
  readonly #session = new ZdsSession();
  readonly #stats: ZdsClientStats = { connects: 0, connectFailures: 0, disconnects: 0, messages: 0, rejected: 0, consumerErrors: 0, snapshots: 0 };
  #state: ZdsClientState = 'idle';
  #socket: SeqpacketSocket | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ready = false;
  /** Requests are handled strictly one after another, including the consumer's async work. */
  #chain: Promise<void> = Promise.resolve();

  constructor(opts: ZdsClientOptions) {
    super();
    this.path = opts.path;
    this.#consumer = opts.consumer;
    this.#log = (opts.log ?? createLogger({ component: 'ztunnel', level: 'silent' })).child({ scope: 'zds' });
    this.#backoff = zdsBackoff(opts.backoff);
    this.#checkNetns = opts.checkNetns ?? true;
  }

  get state(): ZdsClientState {
    return this.#state;
  }

  /** True once a snapshot was applied on the current connection (Istio's readiness rule). */
  get ready(): boolean {
    return this.#ready;
  }

  get stats(): Readonly<ZdsClientStats> {
    return { ...this.#stats };
  }

  /** Pods announced and not deleted since (the set the consumer should be running). */
  get workloads(): ReadonlySet<string> {
    return this.#session.known;
  }

  start(): void {
    if (this.#state !== 'idle') return;
    this.#connect();
  }

  /** Stops for good; resolves once the request being handled (if any) is finished. */
  async close(): Promise<void> {
    if (!this.#to('closed')) return this.#chain;
    clearTimeout(this.#timer);
    this.#ready = false;
    const s = this.#socket;
    this.#socket = undefined;
    s?.close();
    return this.#chain;
  }

  #to(next: ZdsClientState): boolean {
    if (!TRANSITIONS[this.#state].includes(next)) return false;
    this.#state = next;
    return true;
  }

  #connect(): void {
    this.#timer = undefined;
    if (this.#state === 'closed') return;
    let socket: SeqpacketSocket;
    try {
      // Above the 1 KiB protocol limit, so an oversize request is answered with an error instead
      // of killing the connection as a truncated read; a few fds so a bad sender's extras are
      // received and closed rather than truncated.
      socket = SeqpacketSocket.connect(this.path, { maxMessageBytes: 4 * ZDS_MAX_MESSAGE_BYTES, maxFds: 8 });
    } catch (err) {
      this.#stats.connectFailures++;
      this.#retry(`connect failed: ${(err as Error).message}`, 'debug');
      return;
    }
    if (!this.#to('connected')) {
      socket.close();
      return;
    }
    this.#socket = socket;
    this.#session.newConnection();
    let socketError: NetnsError | undefined;
    socket.on('message', (m) => {
      this.#chain = this.#chain
        .then(() => this.#handle(socket, m))
        // Only a throwing event listener can get here; the next request must still be handled.
        .catch((err: unknown) => this.#log.error({ err: (err as Error).message }, 'ZDS request handling failed'));
    });
    socket.on('error', (err) => {
      socketError = err;
    });
    socket.on('close', () => this.#onClose(socket, socketError ? `connection error: ${socketError.message}` : 'closed by the node agent'));
    try {
      socket.send(encodeHello());
    } catch (err) {
      socket.close();
      this.#onClose(socket, `hello failed: ${(err as Error).message}`);
      return;
    }
    this.#stats.connects++;
    this.#log.info({ path: this.path }, 'connected to the node agent');
    this.emit('connected');
  }

  #onClose(socket: SeqpacketSocket, reason: string): void {
    if (socket !== this.#socket) return;
    this.#socket = undefined;
    this.#ready = false;
    this.#stats.disconnects++;
    this.emit('disconnected', reason);
    this.#retry(reason, 'warn');
  }

  #retry(reason: string, level: 'debug' | 'warn'): void {
    if (!this.#to('backoff')) return;
    const delay = this.#backoff.next();
    this.#log[level]({ path: this.path, reason, retryInMs: delay }, 'node agent unavailable; reconnecting');
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  /** Handles one datagram; never throws. Received fds are closed unless handed to the consumer. */
  async #handle(socket: SeqpacketSocket, m: SeqpacketMessage): Promise<void> {
    if (socket !== this.#socket) {
      // Arrived on a connection that has since closed: nobody will read our answer.
      for (const fd of m.fds) closeFd(fd);
      return;
    }
    this.#stats.messages++;
    const parsed = checkRequestDatagram(m.data, m.fds.length);
    if (!parsed.ok) {
      for (const fd of m.fds) closeFd(fd);
      this.#refuse(socket, parsed.error);
      return;
    }
    const req = parsed.value;
    const fd = req.kind === 'add' ? m.fds[0] : undefined;
    if (fd !== undefined && this.#checkNetns && !isNetnsFd(fd)) {
      closeFd(fd);
      this.#refuse(socket, new ZdsError('FD_NOT_NETNS', `AddWorkload ${req.kind === 'add' ? req.uid : ''}: the fd is not a network namespace`));
      return;
    }
    const action = this.#session.receive(req);
    switch (action.kind) {
      case 'reject':
        if (fd !== undefined) closeFd(fd);
        this.#refuse(socket, action.error);
        // The agent's idea of the snapshot and ours differ: a new connection brings a fresh one.
        socket.close();
        this.#onClose(socket, `protocol error: ${action.error.message}`);
        return;
      case 'add':
        this.#log.info({ uid: action.uid, pod: `${action.info.namespace}/${action.info.name}` }, 'pod received, starting proxy');
        await this.#callConsumer(socket, action.uid, `failed to start proxy for ${action.uid}`, () => this.#consumer.onAdd(action.uid, action.info, fd!));
        return;
      case 'keep':
        if (!action.known) this.#log.info({ uid: action.uid }, 'keep for a pod this ztunnel does not run');
        this.#ack(socket);
        return;
      case 'del':
        this.#log.info({ uid: action.uid }, 'pod deleted, stopping proxy');
        await this.#callConsumer(socket, action.uid, `failed to stop proxy for ${action.uid}`, () => this.#consumer.onDel(action.uid));
        return;
      case 'snapshotDone':
        for (const uid of action.drop) {
          this.#log.info({ uid }, 'pod not in the snapshot, stopping proxy');
          try {
            await this.#consumer.onDel(uid);
          } catch (err) {
            this.#consumerFailed(uid, `failed to stop proxy for ${uid}: ${(err as Error).message}`);
          }
        }
        this.#stats.snapshots++;
        await this.#callConsumer(socket, undefined, 'failed to apply the snapshot', async () => {
          await this.#consumer.onSnapshotDone();
          if (socket !== this.#socket) return;
          this.#ready = true;
          this.#backoff.reset();
          this.#log.info({ pods: this.#session.known.size }, 'snapshot applied');
          this.emit('ready');
        });
        return;
    }
  }

  async #callConsumer(socket: SeqpacketSocket, uid: string | undefined, what: string, fn: () => void | Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      const message = `${what}: ${(err as Error).message}`;
      this.#consumerFailed(uid, message);
      this.#ack(socket, message);
      return;
    }
    this.#ack(socket);
  }

  #consumerFailed(uid: string | undefined, message: string): void {
    this.#stats.consumerErrors++;
    this.#log.error({ uid, err: message }, 'ZDS request failed');
    this.emit('consumerError', uid, message);
  }

  #refuse(socket: SeqpacketSocket, error: ZdsError): void {
    this.#stats.rejected++;
    this.#log.warn({ code: error.code, err: error.message }, 'ZDS request refused');
    this.emit('rejected', error);
    this.#ack(socket, error.message);
  }

  #ack(socket: SeqpacketSocket, error = ''): void {
    if (socket.closed) return;
    try {
      socket.send(encodeAck(error));
    } catch (err) {
      // The connection is going away; its close handler reconnects.
      this.#log.debug({ err: (err as Error).message }, 'ack not sent');
    }
  }
}

function isNetnsFd(fd: number): boolean {
  try {
    return isNetns(fd);
  } catch {
    return false;
  }
}
