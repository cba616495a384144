/**
 * gRPC server lifecycle: bind, serve Authorization and grpc.health.v1, stop gracefully.
 */
import type { Server as NetServer, Socket } from 'node:net';
import { Server, ServerCredentials, type experimental, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { ListenAddress } from '../config/schema.js';
import { AUTHORIZATION_SERVICE } from './check-service.js';
import { removeStaleUnixSocket } from '../listen.js';
import { grpcListeners } from './listeners.js';
import { boundedRequests } from './oversized-requests.js';
import { CHECK_METHOD_PATH } from './protos.js';
import { ProviderServerCredentials } from './server-credentials.js';

/** At most one report of connections refused over max_connections per this many ms. */
const REFUSED_REPORT_MS = 10_000;

export const AUTHORIZATION_SERVICE_NAME = 'envoy.service.auth.v3.Authorization';

export interface GrpcServerOptions {
  /**
   * Largest CheckRequest read, in bytes; a longer one is discarded unread and denied
   * (grpc/oversized-requests.ts), never refused with an RPC error.
   */
  maxReceiveBytes: number;
  /** Told when grpc-js' internals do not allow that, so longer requests get RESOURCE_EXHAUSTED. */
  onOversizeUnsupported(): void;
  /**
   * Close each client connection after this age (grpc-js adds ±10% jitter) with GOAWAY, in-flight
   * calls finishing, so a rotated certificate or a removed CA reaches every client: TLS is only
   * checked at the handshake. Calls the client sent before it read the GOAWAY are refused and must
   * be retried by the client (see the constructor). 0: connections live forever.
   */
  maxConnectionAgeMs: number;
  /** After that GOAWAY, how long in-flight calls may take before the connection is cut. */
  maxConnectionAgeGraceMs: number;
  /**
   * HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS advertised on every connection (max_concurrent_streams).
   * nghttp2 enforces it: a stream over it that the client sent before acknowledging the SETTINGS is
   * reset with REFUSED_STREAM (never processed; the client may retry it); a client that keeps
   * going loses the connection (GOAWAY: PROTOCOL_ERROR from nghttp2 once the limit is acknowledged,
   * or INTERNAL_ERROR from Node's guard against a flood of refused streams, after about 1,000).
   * grpc-js disables Node's per-session memory guard (maxSessionMemory), so this bounds memory.
   */
  maxConcurrentStreams: number;
  /**
   * Connections this process holds at once (max_connections): one more is closed as soon as it
   * is accepted, before any TLS handshake (the client sees its connection closed by the peer and
   * connects again). See limitConnections.
   */
  maxConnections: number;
  /**
   * Told how many connections were closed because maxConnections were open: at the first, then
   * at most every 10 s while it goes on.
   */
  onConnectionsRefused?(count: number): void;
}

/** TLS for the listener: `provider` serves the certificate, key and (with `mutualTls`) client CAs. */
export interface GrpcTls {
  provider: experimental.CertificateProvider;
  mutualTls: boolean;
  /**
   * 48 bytes for TLS session tickets, the same in every process of one server, so a client resumes
   * its session on whichever process takes its next connection (grpc/server-credentials.ts).
   * None: each process issues tickets only it accepts.
   */
  ticketKeys?: Buffer;
}

function serverCredentials(tls: GrpcTls | undefined): ServerCredentials {
  return tls ? new ProviderServerCredentials(tls.provider, tls.mutualTls, tls.ticketKeys) : ServerCredentials.createInsecure();
}

/**
 * At most `max` connections open at once over `listeners`: one more is destroyed as soon as it is
 * accepted, before any TLS handshake or HTTP/2 session, and counted for `report` (at the first
 * refusal, then at most every REFUSED_REPORT_MS).
 *
 * Not `net.Server.maxConnections`: a connection injected into a cluster worker
 * (acceptFromElsewhere) never passes through it. Destroying it here answers it at once in both
 * modes.
 */
function limitConnections(listeners: readonly NetServer[], max: number, report: ((count: number) => void) | undefined): void {
  let open = 0;
  let refused = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    if (refused === 0) return;
    report?.(refused);
    refused = 0;
    timer = setTimeout(flush, REFUSED_REPORT_MS).unref();
  };
  for (const listener of listeners) {
    // Before grpc-js' and Node's own 'connection' listeners (grpc-js drops connections the same way
    // while it has no TLS credentials).
    listener.prependListener('connection', (socket: Socket) => {
      if (open >= max) {
        socket.destroy();
        refused++;
        if (!timer) flush();
        return;
      }
      open++;
      socket.once('close', () => open--);
    });
  }
}

export class GrpcServer {
  readonly #server: Server;
  readonly #health: HealthImplementation;
  readonly #options: GrpcServerOptions;
  #stopping = false;

  constructor(check: UntypedServiceImplementation, options: GrpcServerOptions) {
    this.#options = options;
    this.#server = new Server({
      'grpc.max_concurrent_streams': options.maxConcurrentStreams,
      'grpc.max_receive_message_length': options.maxReceiveBytes,
      interceptors: [boundedRequests(CHECK_METHOD_PATH, options.maxReceiveBytes, options.onOversizeUnsupported)],
      // Envoy keeps long-lived HTTP/2 connections with keepalive pings; allow them.
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.http2.min_ping_interval_without_data_ms': 10_000,
      // channelz (grpc's introspection service) is not exposed; its per-call bookkeeping costs CPU.
      'grpc.enable_channelz': 0,
      // grpc-js sends GOAWAY (last stream 2^31-1), then closes the session (a second GOAWAY naming the
      // last stream processed). nghttp2 drops every stream that arrives after the first GOAWAY, so the
      // Checks a client sent before reading it are reported unprocessed (REFUSED_STREAM at the client):
      // a client must retry them (README, TLS section). Node exposes no way to send the RFC 9113 §6.8
      // shutdown notice (nghttp2_submit_shutdown_notice) that would avoid that.
      ...(options.maxConnectionAgeMs > 0
        ? { 'grpc.max_connection_age_ms': options.maxConnectionAgeMs, 'grpc.max_connection_age_grace_ms': options.maxConnectionAgeGraceMs }
        : {}),
    });
    this.#server.addService(AUTHORIZATION_SERVICE, check);
    this.#health = new HealthImplementation({ '': 'NOT_SERVING', [AUTHORIZATION_SERVICE_NAME]: 'NOT_SERVING' });
    this.#health.addToServer(this.#server);
  }

  /**
   * Binds the listener; resolves to the bound port (0 for a unix socket). With a certificate
   * provider the listener speaks TLS, and requires client certificates when `mutualTls`.
   */
  async bind(address: ListenAddress, tls?: GrpcTls): Promise<number> {
    if (address.kind === 'unix') await removeStaleUnixSocket(address.path);
    const credentials = serverCredentials(tls);
    const target = address.kind === 'unix' ? `unix://${address.path}` : `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
    return new Promise((resolve, reject) => {
      this.#server.bindAsync(target, credentials, (error, port) => {
        if (error) {
          reject(new Error(`cannot listen on ${address.text}: ${error.message}`));
          return;
        }
        const listeners = grpcListeners(this.#server);
        if (!listeners) {
          this.#server.forceShutdown();
          reject(new Error('max_connections: this grpc-js version does not expose its listeners (grpc/listeners.ts), so the connection limit cannot be applied. Fix: use the grpc-js version in package-lock.json'));
          return;
        }
        limitConnections(listeners, this.#options.maxConnections, this.#options.onConnectionsRefused);
        resolve(port);
      });
    });
  }

  /**
   * Serves connections accepted by another process instead of binding a listener: a cluster
   * worker gets each connection from the primary's listener over IPC (src/cluster/connections.ts).
   * Returns the function that takes one accepted socket (nothing read from it yet: TLS, when `tls`
   * is given, starts here). The max_connections limit applies to injected connections as to
   * accepted ones; once shutdown() has begun, a socket handed in is closed at once.
   */
  acceptFromElsewhere(tls?: GrpcTls): (socket: Socket) => void {
    const injector = this.#server.createConnectionInjector(serverCredentials(tls));
    // The injector's http2 server is the only one this Server has (no bind).
    const listeners = grpcListeners(this.#server);
    if (!listeners) throw new Error('max_connections: this grpc-js version does not expose its connection injector\'s server (grpc/listeners.ts), so the connection limit cannot be applied. Fix: use the grpc-js version in package-lock.json');
    limitConnections(listeners, this.#options.maxConnections, this.#options.onConnectionsRefused);
    return (socket) => {
      if (this.#stopping) socket.destroy();
      else injector.injectConnection(socket);
    };
  }

  setServing(serving: boolean): void {
    const status = serving ? 'SERVING' : 'NOT_SERVING';
    this.#health.setStatus('', status);
    this.#health.setStatus(AUTHORIZATION_SERVICE_NAME, status);
  }

  /** Stop accepting calls, let in-flight ones finish; after `timeoutMs`, cancel what is left. */
  shutdown(timeoutMs: number): Promise<'graceful' | 'forced'> {
    this.#stopping = true;
    this.setServing(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#server.forceShutdown();
        resolve('forced');
      }, timeoutMs);
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve('graceful');
      });
    });
  }
}
