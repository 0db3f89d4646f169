// Test support: a stand-in node agent serving the plugin event protocol over HTTP on a unix socket
// (a real node:http server, so the plugin's own HTTP client meets a real peer). Each test decides
// the answer per event; the agent records what it received and when it answered.
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { CMDADD_PATH, validateCmdAddEvent, type CmdAddEvent } from '../shared/plugin-event.ts';

export interface FakeAnswer {
  status: number;
  body: unknown;
}

export type Responder = (event: CmdAddEvent) => FakeAnswer | Promise<FakeAnswer>;

export const answerCaptured: Responder = () => ({ status: 200, body: { captured: true } });

export interface Received {
  event: CmdAddEvent;
  receivedAt: number;
  answeredAt?: number;
}

export class FakeAgent {
  readonly socketPath: string;
  readonly received: Received[] = [];
  respond: Responder;
  private readonly server: Server;

  private constructor(socketPath: string, respond: Responder, server: Server) {
    this.socketPath = socketPath;
    this.respond = respond;
    this.server = server;
  }

  static async start(socketPath: string, respond: Responder = answerCaptured): Promise<FakeAgent> {
    rmSync(socketPath, { force: true });
    let agent: FakeAgent | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          const send = (status: number, body: unknown) => {
            const text = typeof body === 'string' ? body : JSON.stringify(body);
            res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
          };
          if (req.method !== 'POST' || req.url !== CMDADD_PATH) return send(404, { error: `no route ${req.method} ${req.url}` });
          let json: unknown;
          try {
            json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            return send(400, { error: 'body is not JSON' });
          }
          const v = validateCmdAddEvent(json);
          if (!v.ok) return send(400, { error: v.errors.join('; ') });
          const rec: Received = { event: v.value, receivedAt: performance.now() };
          agent!.received.push(rec);
          const a = await agent!.respond(v.value);
          rec.answeredAt = performance.now();
          send(a.status, a.body);
        })();
      });
    });
    agent = new FakeAgent(socketPath, respond, server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    return agent;
  }

  /** Stops listening and drops open connections; the socket file goes away. */
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.socketPath, { force: true });
  }
}
