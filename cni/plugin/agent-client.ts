// The one exchange with the node agent: POST the CmdAddEvent to /cmdadd on its unix socket and wait,
// at most `timeoutMs` in all (connect, send, answer), for the answer. Never throws: every ending is
// an AgentOutcome for decide.ts.
import { connect } from 'node:net';
import { CMDADD_PATH, failureText, validateCmdAddAnswer, type CmdAddEvent } from '../shared/plugin-event.ts';
import type { AgentOutcome } from './decide.ts';
import { parseResponse, renderPost } from './http1.ts';

export function postCmdAdd(socketPath: string, event: CmdAddEvent, timeoutMs: number): Promise<AgentOutcome> {
  return new Promise((resolve) => {
    let received = Buffer.alloc(0);
    let done = false;
    const sock = connect({ path: socketPath, allowHalfOpen: true });
    const finish = (o: AgentOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout', afterMs: timeoutMs }), timeoutMs);

    const examine = (ended: boolean): void => {
      const r = parseResponse(received, ended);
      if (r.kind === 'incomplete') return;
      if (r.kind === 'invalid') return finish({ kind: 'invalid', error: r.error });
      if (r.status !== 200) return finish({ kind: 'rejected', status: r.status, error: failureText(r.body) });
      let json: unknown;
      try {
        json = JSON.parse(r.body);
      } catch (err) {
        return finish({ kind: 'invalid', error: `answer is not JSON: ${(err as Error).message}` });
      }
      const answer = validateCmdAddAnswer(json);
      finish(answer.ok ? { kind: 'answered', answer: answer.value } : { kind: 'invalid', error: answer.errors.join('; ') });
    };

    // No half-close after the request: an HTTP server may take our FIN as the client giving up.
    sock.on('connect', () => sock.write(renderPost(CMDADD_PATH, JSON.stringify(event))));
    sock.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      examine(false);
    });
    sock.on('end', () => (received.length ? examine(true) : finish({ kind: 'unreachable', error: 'connection closed without an answer' })));
    sock.on('close', () => finish({ kind: 'unreachable', error: 'connection closed without an answer' }));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      // Before any byte came back the agent is unreachable; after, the answer was cut short.
      if (received.length === 0) finish({ kind: 'unreachable', error: `${err.code ?? 'error'} ${socketPath}: ${err.message}` });
      else finish({ kind: 'invalid', error: `connection failed mid-answer: ${err.message}` });
    });
  });
}
