// lab/tcp-echo: writes back every byte it receives; when the client half-closes, it finishes echoing
// and then ends its side too. With ECHO_PREFIX set, that text is written once when a connection opens
// (for instance the pod name, to tell which endpoint answered).
//
// Env: PORT (default 9000, 0 = ephemeral), BIND_ADDRESS (default `::`), ECHO_PREFIX (default none).
import { createServer, type Socket } from 'node:net';
import { drainSockets, exitOnSignal, listen, log, podIdentity, portFromEnv, ready } from './program.ts';

const prefix = process.env.ECHO_PREFIX ?? '';
const sockets = new Set<Socket>();

const server = createServer({ allowHalfOpen: true }, (socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => {
    /* a reset peer; 'close' follows */
  });
  if (prefix) socket.write(prefix);
  // pipe keeps backpressure and ends our side once the client's side has ended and all is written.
  socket.pipe(socket);
});

exitOnSignal(async () => {
  server.close();
  for (const s of sockets) s.end();
  await drainSockets(sockets);
});

const id = podIdentity();
const port = await listen(server, portFromEnv(9000));
log('info', 'tcp-echo listening', { port, pod: id.pod, namespace: id.namespace });
ready(port);
