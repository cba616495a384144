// An evaluation thread that acknowledges loads and dies on its first batch (exit code 7): for the
// evaluation threads' handling of a thread that ends by itself (test/unit/eval-threads-exit.test.ts).
import { parentPort } from 'node:worker_threads';

parentPort.on('message', (message) => {
  if (message.kind === 'load') parentPort.postMessage({ kind: 'loaded', id: message.id });
  if (message.kind === 'batch') process.exit(7);
});
