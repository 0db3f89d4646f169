// A small Kubernetes REST client for the lab's own processes (kubelet and kube-proxy stand-ins):
// client-certificate auth, JSON requests, and list+watch with resourceVersion and relist on 410.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { parse as parseYaml } from 'yaml';

export class KubeError extends Error {
  readonly code = 'LAB_KUBE_ERROR';
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

interface KubeconfigFile {
  clusters: { cluster: { server: string; 'certificate-authority': string } }[];
  users: { user: { 'client-certificate': string; 'client-key': string } }[];
}

export class KubeClient {
  private readonly agent: https.Agent;
  private readonly base: URL;
  private closed = false;

  constructor(kubeconfigPath: string) {
    const kc = parseYaml(readFileSync(kubeconfigPath, 'utf8')) as KubeconfigFile;
    const cluster = kc.clusters[0]?.cluster;
    const user = kc.users[0]?.user;
    if (!cluster || !user) throw new Error(`kubeconfig ${kubeconfigPath}: no cluster or user`);
    this.base = new URL(cluster.server);
    this.agent = new https.Agent({
      keepAlive: true,
      ca: readFileSync(cluster['certificate-authority']),
      cert: readFileSync(user['client-certificate']),
      key: readFileSync(user['client-key']),
    });
  }

  close(): void {
    this.closed = true;
    this.agent.destroy();
  }

  async request<T = unknown>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise<T>((resolve, reject) => {
      const req = https.request(
        new URL(path, this.base),
        {
          method,
          agent: this.agent,
          headers: {
            accept: 'application/json',
            ...(payload ? { 'content-type': contentType, 'content-length': payload.length } : {}),
          },
          timeout: 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              json = undefined;
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve(json as T);
            else {
              const s = (json ?? {}) as { reason?: string; message?: string };
              reject(new KubeError(status, s.reason ?? 'Unknown', `${method} ${path}: ${status} ${s.message ?? text}`));
            }
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /**
   * Lists then watches `path` (a collection URL, query allowed) forever, calling `onSync` with the full
   * list after every (re)list and `onEvent` for each change. Restarts the watch where it left off;
   * relists on 410 Gone; backs off on errors. Returns a function that stops it.
   */
  informer<T extends KubeObject>(
    path: string,
    handlers: { onSync: (items: T[]) => void; onEvent: (ev: WatchEvent<T>) => void; onError?: (err: Error) => void },
  ): () => void {
    let stopped = false;
    let current: import('node:http').ClientRequest | undefined;
    const sep = path.includes('?') ? '&' : '?';
    const loop = async (): Promise<void> => {
      let backoff = 200;
      let rv: string | undefined;
      while (!stopped && !this.closed) {
        try {
          if (!rv) {
            const list = await this.request<{ items: T[]; metadata: { resourceVersion: string } }>('GET', path);
            rv = list.metadata.resourceVersion;
            handlers.onSync(list.items);
          }
          rv = await new Promise<string | undefined>((resolve, reject) => {
            let lastRv = rv;
            const url = new URL(`${path}${sep}watch=1&allowWatchBookmarks=true&resourceVersion=${lastRv}&timeoutSeconds=300`, this.base);
            const req = https.request(url, { agent: this.agent, headers: { accept: 'application/json' } }, (res) => {
              if (res.statusCode === 410) {
                res.resume();
                resolve(undefined);
                return;
              }
              if (res.statusCode !== 200) {
                res.resume();
                reject(new KubeError(res.statusCode ?? 0, 'WatchFailed', `watch ${path}: ${res.statusCode}`));
                return;
              }
              let buf = '';
              res.setEncoding('utf8');
              res.on('data', (d: string) => {
                buf += d;
                let nl: number;
                while ((nl = buf.indexOf('\n')) >= 0) {
                  const line = buf.slice(0, nl);
                  buf = buf.slice(nl + 1);
                  if (!line.trim()) continue;
                  const ev = JSON.parse(line) as WatchEvent<T>;
                  if (ev.type === 'ERROR') {
                    const st = ev.object as unknown as { code?: number };
                    lastRv = st.code === 410 ? undefined : lastRv;
                    req.destroy();
                    resolve(lastRv);
                    return;
                  }
                  lastRv = ev.object.metadata.resourceVersion ?? lastRv;
                  if (ev.type !== 'BOOKMARK') handlers.onEvent(ev);
                }
              });
              res.on('end', () => resolve(lastRv));
              res.on('error', () => resolve(lastRv));
            });
            current = req;
            req.on('error', (err) => (stopped ? resolve(lastRv) : reject(err)));
            req.end();
          });
          backoff = 200;
        } catch (err) {
          if (stopped || this.closed) return;
          handlers.onError?.(err as Error);
          await new Promise((r) => setTimeout(r, backoff));
          backoff = Math.min(backoff * 2, 5000);
        }
      }
    };
    void loop();
    return () => {
      stopped = true;
      current?.destroy();
    };
  }
}
