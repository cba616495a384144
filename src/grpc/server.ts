/**
 * gRPC server lifecycle: bind, serve Authorization and grpc.health.v1, stop gracefully.
 */
import { Server, ServerCredentials, experimental, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { ListenAddress } from '../config/schema.js';
import { AUTHORIZATION_SERVICE } from './check-service.js';
import { boundedRequests } from './oversized-requests.js';
import { CHECK_METHOD_PATH } from './protos.js';

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
   * Close each client connection gracefully (GOAWAY, in-flight calls finish) after this age (grpc-js
   * adds ±10% jitter), so a rotated certificate or a removed CA reaches every client: TLS is only
   * checked at the handshake. 0: connections live forever.
   */
  maxConnectionAgeMs: number;
  /** After that GOAWAY, how long in-flight calls may take before the connection is cut. */
  maxConnectionAgeGraceMs: number;
}

export class GrpcServer {
  readonly #server: Server;
  readonly #health: HealthImplementation;

  constructor(check: UntypedServiceImplementation, options: GrpcServerOptions) {
    this.#server = new Server({
      'grpc.max_receive_message_length': options.maxReceiveBytes,
      interceptors: [boundedRequests(CHECK_METHOD_PATH, options.maxReceiveBytes, options.onOversizeUnsupported)],
      // Envoy keeps long-lived HTTP/2 connections with keepalive pings; allow them.
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.http2.min_ping_interval_without_data_ms': 10_000,
      // channelz (grpc's introspection service) is not exposed; its per-call bookkeeping costs CPU.
      'grpc.enable_channelz': 0,
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
  bind(address: ListenAddress, tls?: { provider: experimental.CertificateProvider; mutualTls: boolean }): Promise<number> {
    const credentials = tls
      ? // grpc-js names the parameters (ca, identity) but uses them as (identity, ca); one provider plays both roles here.
        experimental.createCertificateProviderServerCredentials(tls.provider, tls.mutualTls ? tls.provider : null, tls.mutualTls)
      : ServerCredentials.createInsecure();
    const target = address.kind === 'unix' ? `unix://${address.path}` : `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
    return new Promise((resolve, reject) => {
      this.#server.bindAsync(target, credentials, (error, port) => {
        if (error) reject(new Error(`cannot listen on ${address.text}: ${error.message}`));
        else resolve(port);
      });
    });
  }

  setServing(serving: boolean): void {
    const status = serving ? 'SERVING' : 'NOT_SERVING';
    this.#health.setStatus('', status);
    this.#health.setStatus(AUTHORIZATION_SERVICE_NAME, status);
  }

  /** Stop accepting calls, let in-flight ones finish; after `timeoutMs`, cancel what is left. */
  shutdown(timeoutMs: number): Promise<'graceful' | 'forced'> {
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
