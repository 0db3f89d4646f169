// lab/sleep: serves nothing; a pod to run clients from (the lab's `exec` enters its netns). Ready at
// once, exits 0 on SIGTERM.
import { exitOnSignal, log, podIdentity, ready } from './program.ts';

// A pending timer keeps the event loop alive until the signal.
const keepAlive = setInterval(() => {}, 1 << 30);
exitOnSignal(() => clearInterval(keepAlive));
const id = podIdentity();
log('info', 'sleep started', { pod: id.pod, namespace: id.namespace });
ready(null);
