// What each ZDS request means for ztunnel's set of pods, decided without I/O. The node agent sends
// a snapshot on every connection (Add or Keep per pod, then SnapshotSent) and then adds/deletes;
// at SnapshotSent every pod we run that the snapshot did not name is dropped, since it went away
// while we were disconnected. The known set outlives connections: proxies keep running while
// ztunnel reconnects.
import { ZdsError, type ZdsRequest, type ZdsWorkloadInfo } from '../../../lib/zds/index.ts';

export type ZdsSessionAction =
  /** Start (or replace) the pod's proxy with the fd that came with the request. */
  | { kind: 'add'; uid: string; info: ZdsWorkloadInfo }
  /** Nothing to do beyond not dropping the pod at SnapshotSent. */
  | { kind: 'keep'; uid: string; known: boolean }
  /** Stop the pod's proxy. */
  | { kind: 'del'; uid: string }
  /** The snapshot is complete: stop the proxies in `drop`, then the set matches the agent's. */
  | { kind: 'snapshotDone'; drop: string[] }
  /** A request that is invalid at this point of the protocol; answer with `error`. */
  | { kind: 'reject'; error: ZdsError };

export class ZdsSession {
  /** Pods handed to the consumer and not deleted since, across connections. */
  readonly #known = new Set<string>();
  /** Pods the current connection's snapshot named (Add or Keep). */
  readonly #named = new Set<string>();
  #snapshotDone = false;

  /** A new connection starts a new snapshot; the pods we run stay. */
  newConnection(): void {
    this.#named.clear();
    this.#snapshotDone = false;
  }

  get snapshotDone(): boolean {
    return this.#snapshotDone;
  }

  get known(): ReadonlySet<string> {
    return this.#known;
  }

  receive(req: ZdsRequest): ZdsSessionAction {
    switch (req.kind) {
      case 'add':
        if (!this.#snapshotDone) this.#named.add(req.uid);
        // Known even if starting it fails: the consumer may retry it, and a later Del must reach it.
        this.#known.add(req.uid);
        return { kind: 'add', uid: req.uid, info: req.info };
      case 'keep':
        if (this.#snapshotDone) return reject(`KeepWorkload ${req.uid} after SnapshotSent`);
        this.#named.add(req.uid);
        return { kind: 'keep', uid: req.uid, known: this.#known.has(req.uid) };
      case 'del':
        if (!this.#snapshotDone) this.#named.delete(req.uid);
        this.#known.delete(req.uid);
        return { kind: 'del', uid: req.uid };
      case 'snapshotSent': {
        if (this.#snapshotDone) return reject('second SnapshotSent on one connection');
        const drop = [...this.#known].filter((uid) => !this.#named.has(uid));
        for (const uid of drop) this.#known.delete(uid);
        this.#named.clear();
        this.#snapshotDone = true;
        return { kind: 'snapshotDone', drop };
      }
    }
  }
}

function reject(message: string): ZdsSessionAction {
  return { kind: 'reject', error: new ZdsError('PROTOCOL', message) };
}
