// The agent's end of the CNI plugin protocol (cni/shared/plugin-event.ts): HTTP/1.1 on a unix
// socket, POST /cmdadd with the pod's netns and IPs; the pod is captured (or found not ambient)
// before the answer, so its containers never start uncaptured. Malformed requests get a 400 with
// the reason, are counted and logged, and never affect other requests.
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { dirname } from 'node:path';
import type { Logger } from '../../lib/log/logger.ts';
import type { Counter } from '../../lib/metrics/registry.ts';
import { CMDADD_PATH, validateCmdAddEvent, type CmdAddAnswer, type CmdAddEvent } from '../shared/plugin-event.ts';

const MAX_BODY_BYTES = 64 * 1024;

export interface PluginServerDeps {
  /** Captures the pod of `event` if it is ambient; throws when an ambient pod could not be captured. */
  handleAdd(event: CmdAddEvent): Promise<CmdAddAnswer>;
  log: Logger;
  /** Requests by result: captured, not_ambient, invalid, failed. */
  events: Counter;
}

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

export async function startPluginServer(path: string, deps: PluginServerDeps): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const invalid = (why: string) => {
      deps.events.inc({ result: 'invalid' });
      deps.log.warn({ err: why }, 'malformed plugin event');
      reply(res, 400, { error: why });
    };
    if (req.url !== CMDADD_PATH || req.method !== 'POST') return invalid(`only POST ${CMDADD_PATH} is served, got ${req.method} ${req.url}`);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        invalid(`body larger than ${MAX_BODY_BYTES} bytes`);
        req.destroy();
      } else chunks.push(c);
    });
    req.on('error', () => {});
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) return;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch (err) {
        return invalid(`body is not JSON: ${(err as Error).message}`);
      }
      const v = validateCmdAddEvent(body);
      if (!v.ok) return invalid(v.errors.join('; '));
      const pod = `${v.value.podNamespace}/${v.value.podName}`;
      deps.handleAdd(v.value).then(
        (answer) => {
          deps.events.inc({ result: answer.captured ? 'captured' : 'not_ambient' });
          deps.log.info({ pod, captured: answer.captured, ...(answer.captured ? {} : { reason: answer.reason }) }, 'CNI ADD answered');
          reply(res, 200, answer);
        },
        (err: Error) => {
          deps.events.inc({ result: 'failed' });
          deps.log.error({ pod, err: err.message }, 'CNI ADD: capturing the pod failed');
          reply(res, 500, { error: `capturing ${pod} failed: ${err.message}` });
        },
      );
    });
  });
  server.on('clientError', (err, socket) => {
    deps.events.inc({ result: 'invalid' });
    deps.log.warn({ err: err.message }, 'malformed HTTP on the plugin event socket');
    socket.destroy();
  });
  mkdirSync(dirname(path), { recursive: true });
  rmSync(path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  return server;
}
