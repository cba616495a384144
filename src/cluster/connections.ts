/**
 * The primary's listeners (workers > 1): gRPC (`addr`) and, when set, the HTTP authorization
 * listener (`http_addr`). The primary accepts each connection paused (nothing read from it) and
 * hands it to a worker over IPC, saying which listener took it; the worker does TLS and HTTP/2
 * (GrpcServer.acceptFromElsewhere) or HTTP/1 (http-authz/server.ts). One id space, one count of
 * open connections per worker, for both listeners.
 *
 * Not node:cluster's own round-robin listener: it forgets a connection it handed to a worker that
 * dies before taking it, and the client waits on a connection nobody serves until its own timeout
 * (the soak found 3 Checks in 180,014 lost that way, each at a worker SIGKILL). Here the primary
 * keeps its copy of the socket until the worker says it took it, and hands it to another worker
 * when that one exits first. It also gives each connection to the worker with the fewest open
 * connections (ties in turn), so a replacement worker takes the next ones instead of every
 * reconnect landing where the old connections are.
 */
import net, { type Server, type Socket } from 'node:net';
import type { Worker } from 'node:cluster';
import type { ListenAddress } from '../config/schema.js';
import { listenOn } from '../listen.js';

export interface ConnectionHandOffOptions {
  /** The workers that may take a connection now: started, answering heartbeats, connected. */
  targets(): readonly Worker[];
  /**
   * Connections held (paused, nothing read) while no worker can take one, e.g. all restarting;
   * handed out when one can. One more is closed at once.
   */
  maxQueued: number;
  /** Told how many connections were closed because the queue was full (or the listener stopped). */
  onRefused(count: number): void;
  /**
   * Told of each connection the bound listener failed to accept (ENFILE, ENOBUFS, ENOMEM...; the
   * client sees its connection fail); the listener keeps accepting. Out of descriptors (EMFILE),
   * libuv closes the connections it cannot accept without an error.
   */
  onAcceptError?(error: Error): void;
}

/** Which of the primary's listeners accepted a connection. */
export type ListenerName = 'grpc' | 'http';

/** Primary → worker, with the socket as the message's handle. */
export interface ConnectionMessage {
  gatehouse: 'connection';
  id: number;
  /** Absent: gRPC (the only listener before http_addr). */
  listener?: 'http';
}

interface Pending {
  socket: Socket;
  worker: Worker;
}

/** The listener each accepted socket came from (set once, at accept). */
const listenerOf = new WeakMap<Socket, ListenerName>();

export class ConnectionHandOff {
  readonly #options: ConnectionHandOffOptions;
  readonly #servers: Server[] = [];
  #nextId = 0;
  #turn = 0;
  #closed = false;
  /** Handed to a worker, not yet taken: the primary still holds its copy. By connection id. */
  readonly #pending = new Map<number, Pending>();
  /** Connections each worker took and has not reported closed. */
  readonly #open = new Map<Worker, Set<number>>();
  readonly #queue: Socket[] = [];
  /**
   * Workers that exited: never picked again, though the pool may still list one until its channel
   * closes (node can report the exit first).
   */
  readonly #exited = new WeakSet<Worker>();
  /** Workers a socket could not be sent to: not tried again for that socket. */
  readonly #failed = new WeakMap<Socket, Set<Worker>>();

  constructor(options: ConnectionHandOffOptions) {
    this.#options = options;
    this.#servers.push(this.#newServer('grpc'));
  }

  #newServer(listener: ListenerName): Server {
    return net.createServer({ pauseOnConnect: true }, (socket) => {
      // A client that resets before a worker reads: nothing to do, the worker sees it closed.
      socket.on('error', () => undefined);
      listenerOf.set(socket, listener);
      this.#hand(socket);
    });
  }

  /**
   * Binds `address` for `listener` (gRPC unless said otherwise); resolves to the bound TCP port (0
   * for a unix socket). `onAcceptError` overrides the options' for this listener.
   */
  async listen(address: ListenAddress, listener: ListenerName = 'grpc', onAcceptError = this.#options.onAcceptError): Promise<number> {
    // The gRPC server exists from construction; each other listener gets its own.
    const server = listener === 'grpc' ? this.#servers[0]! : this.#newServer(listener);
    if (listener !== 'grpc') this.#servers.push(server);
    // From listening on, an 'error' is a failed accept: with no listener it would end the primary.
    return (await listenOn(server, address, (error) => onAcceptError?.(error))) ?? 0;
  }

  /** The worker took connection `id`: the primary drops its copy. */
  taken(worker: Worker, id: number): void {
    const pending = this.#pending.get(id);
    if (!pending || pending.worker !== worker) return;
    this.#pending.delete(id);
    // Closes only the primary's descriptor; the worker's keeps the connection open.
    pending.socket.destroy();
    this.#openOf(worker).add(id);
  }

  /**
   * The last connection id handed out so far: pass it to answered() once the worker has answered
   * a message sent after this call.
   */
  mark(): number {
    return this.#nextId;
  }

  /**
   * The worker answered a message (a heartbeat) sent when mark() was `mark`. Node delivers the
   * messages to a worker in order and the worker says `connection-taken` as it gets one, so a
   * connection up to `mark` handed to it and not taken never reached it: node drops a handle the
   * worker could not receive (its descriptors used up: MSG_CTRUNC, NODE_HANDLE_NACK) without a
   * word to either side, when the handle is sent with keepOpen. It goes to another worker; with
   * none other, it is closed and counted as refused (the client connects again) instead of
   * waiting for a worker that will never serve it.
   */
  answered(worker: Worker, mark: number): void {
    const lost: Pending[] = [];
    for (const [id, pending] of this.#pending) {
      if (id > mark || pending.worker !== worker) continue;
      this.#pending.delete(id);
      this.#exclude(pending.socket, worker);
      lost.push(pending);
    }
    for (const { socket } of lost) this.#hand(socket);
  }

  /** A connection the worker took has closed. */
  closed(worker: Worker, id: number): void {
    this.#open.get(worker)?.delete(id);
  }

  /** A worker can take connections now (it started, or answers heartbeats again): queued ones go out. */
  flush(): void {
    // Each queued socket once: one no worker can take (yet) goes back to the queue.
    for (const socket of this.#queue.splice(0)) this.#hand(socket);
  }

  /**
   * A worker is gone (its IPC channel closed, so every message it sent has been read): each
   * connection handed to it and not taken goes to another worker.
   */
  workerExited(worker: Worker): void {
    this.#exited.add(worker);
    this.#open.delete(worker);
    const orphans: Socket[] = [];
    for (const [id, pending] of this.#pending) {
      if (pending.worker !== worker) continue;
      this.#pending.delete(id);
      orphans.push(pending.socket);
    }
    for (const socket of orphans) this.#hand(socket);
  }

  /** Open connections per worker (taken and handed), for tests and logs. */
  counts(): Map<Worker, number> {
    const counts = new Map<Worker, number>();
    for (const worker of this.#options.targets()) counts.set(worker, this.#load(worker));
    return counts;
  }

  /**
   * Stops accepting (the end of the drain): new connections are refused by the OS; queued ones
   * are closed. Connections already handed to workers are theirs to finish.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Not waiting for 'close': sockets sent with keepOpen stay counted by net.Server until the workers end.
    for (const server of this.#servers) if (server.listening) server.close();
    const dropped = this.#queue.splice(0);
    for (const socket of dropped) socket.destroy();
    if (dropped.length > 0) this.#options.onRefused(dropped.length);
  }

  #openOf(worker: Worker): Set<number> {
    let open = this.#open.get(worker);
    if (!open) this.#open.set(worker, (open = new Set()));
    return open;
  }

  #load(worker: Worker): number {
    let handed = 0;
    for (const pending of this.#pending.values()) if (pending.worker === worker) handed++;
    return (this.#open.get(worker)?.size ?? 0) + handed;
  }

  /** The target with the fewest connections, ties in turn; none but those in `except`. */
  #pick(except: Set<Worker> | undefined): Worker | undefined {
    const targets = this.#options.targets().filter((worker) => !this.#exited.has(worker) && !except?.has(worker));
    if (targets.length === 0) return undefined;
    const start = this.#turn++ % targets.length;
    let best: Worker | undefined;
    let bestLoad = Infinity;
    for (let i = 0; i < targets.length; i++) {
      const worker = targets[(start + i) % targets.length]!;
      const load = this.#load(worker);
      if (load < bestLoad) {
        best = worker;
        bestLoad = load;
      }
    }
    return best;
  }

  /** `socket` could not be handed to `worker`: it is not tried there again. */
  #exclude(socket: Socket, worker: Worker): void {
    let tried = this.#failed.get(socket);
    if (!tried) this.#failed.set(socket, (tried = new Set()));
    tried.add(worker);
  }

  #hand(socket: Socket): void {
    if (socket.destroyed) return;
    const tried = this.#failed.get(socket);
    const worker = this.#pick(tried);
    if (!worker) {
      // Queued only while no worker can take connections at all; one every worker failed to
      // receive would wait there until a worker is replaced, so it is refused now.
      const everyTargetFailed = tried !== undefined && this.#options.targets().some((target) => !this.#exited.has(target));
      if (this.#closed || everyTargetFailed || this.#queue.length >= this.#options.maxQueued) {
        socket.destroy();
        this.#options.onRefused(1);
      } else {
        this.#queue.push(socket);
      }
      return;
    }
    const id = ++this.#nextId;
    this.#pending.set(id, { socket, worker });
    const failed = () => {
      if (this.#pending.get(id)?.worker !== worker) return;
      this.#pending.delete(id);
      this.#exclude(socket, worker);
      this.#hand(socket);
    };
    const message: ConnectionMessage = listenerOf.get(socket) === 'http' ? { gatehouse: 'connection', id, listener: 'http' } : { gatehouse: 'connection', id };
    try {
      // keepOpen: the primary's copy stays open until the worker says `connection-taken`.
      worker.send(message, socket, { keepOpen: true }, (error) => {
        if (error) failed();
      });
    } catch {
      failed();
    }
  }
}
