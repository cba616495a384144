/**
 * Binding gatehouse's own listeners (the admin port, the HTTP authorization listener, the cluster
 * primary's gRPC listener; grpc-js binds the single-process gRPC listener itself, after
 * removeStaleUnixSocket): one way to bind, report failed accepts, and reuse a unix socket path a
 * killed process left behind.
 */
import { lstatSync, unlinkSync } from 'node:fs';
import net, { type AddressInfo, type Server } from 'node:net';
import type { ListenAddress } from './config/schema.js';
import { describeThrown } from './errors.js';
import type { Logger } from './observability/logger.js';

/**
 * A unix socket file left by a process that died without closing it (SIGKILL, OOM kill; in
 * Kubernetes an emptyDir outlives the container) makes the next bind fail with EADDRINUSE. If
 * `path` is a socket nobody accepts on (connecting is refused), it is removed. A socket another
 * process serves, or a file that is not a socket, is left alone: the bind then fails as before.
 */
export async function removeStaleUnixSocket(path: string): Promise<void> {
  try {
    if (!lstatSync(path).isSocket()) return;
  } catch {
    return; // nothing there
  }
  const refused = await new Promise<boolean>((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(false);
    });
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
  if (!refused) return;
  try {
    unlinkSync(path);
  } catch {
    // gone meanwhile, or not ours to remove: the bind reports it
  }
}

/**
 * Binds `server` to `address`; resolves to the bound TCP port (undefined for a unix socket, whose
 * stale file is removed first), rejects naming the address. Once bound, an 'error' on the server
 * is a failed accept: told to `onAcceptError` while the server keeps listening (unhandled, it
 * would end the process).
 */
export async function listenOn(server: Server, address: ListenAddress, onAcceptError: (error: Error) => void): Promise<number | undefined> {
  if (address.kind === 'unix') await removeStaleUnixSocket(address.path);
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(new Error(`cannot listen on ${address.text}: ${describeThrown(error)}`));
    server.once('error', onError);
    const onListening = () => {
      server.off('error', onError);
      server.on('error', onAcceptError);
      resolve(address.kind === 'tcp' ? (server.address() as AddressInfo).port : undefined);
    };
    if (address.kind === 'unix') server.listen(address.path, onListening);
    else server.listen(address.port, address.host, onListening);
  });
}

/** An onAcceptError for `listener` (e.g. "admin"): logs the first failed accept, then a count at most every 10 s. */
export function acceptErrorReporter(logger: Logger, listener: string): (error: Error) => void {
  let count = 0;
  let last = '';
  let timer: NodeJS.Timeout | undefined;
  const report = () => {
    timer = undefined;
    if (count === 0) return;
    logger.error({ count, error: last }, `the ${listener} listener failed to accept connections (their clients see them fail); it keeps listening`);
    count = 0;
    timer = setTimeout(report, 10_000).unref();
  };
  return (error) => {
    count++;
    last = describeThrown(error);
    if (!timer) report();
  };
}
