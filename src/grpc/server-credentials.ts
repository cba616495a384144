/**
 * TLS credentials for the gRPC listener: grpc-js' certificate-provider credentials (the same
 * options, the same update path) plus TLS session ticket keys.
 *
 * grpc-js' own `experimental.createCertificateProviderServerCredentials` builds each TLS context
 * from `{ca, cert, key}` only, so every context (the first, and each one after a certificate or CA
 * rotation, applied with `setSecureContext`) gets fresh random ticket keys from OpenSSL: sessions
 * resume only on the process that issued the ticket. This class subclasses grpc-js' public
 * `ServerCredentials` and feeds the same listener (`updateSecureContextOptions`, which grpc-js
 * hands to `http2.createSecureServer` and `setSecureContext`) with `ticketKeys` added, so worker
 * processes given the same `ticketKeys` resume each other's sessions.
 *
 * The keys each context uses are derived (HKDF-SHA256) from the configured 48 bytes and the client
 * CA bundle in force: a CA change (a CA removed from tls_client_ca_file or a trust bundle) makes
 * every earlier ticket unusable, so no client resumes a session its certificate no longer earns.
 * A resumed TLS 1.3 session keeps the client certificate and its verification result from the
 * full handshake (OpenSSL stores both in the session), so a resumed connection carries the same
 * identity (test/integration/tls-resumption.test.ts).
 */
import { hkdfSync } from 'node:crypto';
import type { SecureServerOptions } from 'node:http2';
import type { SecureContextOptions } from 'node:tls';
import { ServerCredentials, type experimental } from '@grpc/grpc-js';

/** Length of Node's `ticketKeys` (16 bytes name, 16 HMAC, 16 AES). */
export const TICKET_KEYS_BYTES = 48;

const SESSION_ID_CONTEXT = 'gatehouse-grpc';
const TICKET_KEYS_INFO = Buffer.from('gatehouse tls session ticket keys v1');

/**
 * The ticket keys for a TLS context: HKDF-SHA256 of `keys` (48 bytes), salted with the client CA
 * bundle (`ca`, PEM; none: empty). Same inputs, same output, in every process.
 */
export function ticketKeysFor(keys: Buffer, ca: Buffer | undefined): Buffer {
  return Buffer.from(hkdfSync('sha256', keys, ca ?? Buffer.alloc(0), TICKET_KEYS_INFO, TICKET_KEYS_BYTES));
}

type SecureContextWatcher = Parameters<ServerCredentials['_addWatcher']>[0];

export class ProviderServerCredentials extends ServerCredentials {
  readonly #provider: experimental.CertificateProvider;
  readonly #mutualTls: boolean;
  readonly #ticketKeys: Buffer | undefined;
  #watchers = 0;
  #ca: Buffer | null | undefined = undefined;
  #identity: { certificate: Buffer; privateKey: Buffer } | null = null;
  readonly #onCa = (update: experimental.CaCertificateUpdate | null) => {
    this.#ca = update?.caCertificate ?? null;
    this.#publish();
  };
  readonly #onIdentity = (update: experimental.IdentityCertificateUpdate | null) => {
    this.#identity = update;
    this.#publish();
  };

  /**
   * `provider` serves both the identity (certificate, key) and, with `mutualTls`, the client CA
   * role; `mutualTls` requires a client certificate that chains to it. `ticketKeys`: 48 bytes
   * shared by every process of one server (throws a TypeError on another length); none: OpenSSL's
   * random keys per TLS context.
   */
  constructor(provider: experimental.CertificateProvider, mutualTls: boolean, ticketKeys?: Buffer) {
    if (ticketKeys !== undefined && ticketKeys.length !== TICKET_KEYS_BYTES) {
      throw new TypeError(`TLS ticket keys must be ${TICKET_KEYS_BYTES} bytes, got ${ticketKeys.length}`);
    }
    // The constructor options grpc-js' certificate-provider credentials use.
    const serverOptions: SecureServerOptions = { requestCert: mutualTls, rejectUnauthorized: mutualTls, ciphers: process.env.GRPC_SSL_CIPHER_SUITES };
    super(serverOptions);
    this.#provider = provider;
    this.#mutualTls = mutualTls;
    this.#ticketKeys = ticketKeys;
  }

  override _addWatcher(watcher: SecureContextWatcher): void {
    if (this.#watchers++ === 0) {
      if (this.#mutualTls) this.#provider.addCaCertificateListener(this.#onCa);
      this.#provider.addIdentityCertificateListener(this.#onIdentity);
    }
    super._addWatcher(watcher);
  }

  override _removeWatcher(watcher: SecureContextWatcher): void {
    super._removeWatcher(watcher);
    if (--this.#watchers === 0) {
      if (this.#mutualTls) this.#provider.removeCaCertificateListener(this.#onCa);
      this.#provider.removeIdentityCertificateListener(this.#onIdentity);
    }
  }

  override _equals(other: ServerCredentials): boolean {
    return this === other;
  }

  #publish(): void {
    const identity = this.#identity;
    // As grpc-js: no usable context until the identity (and, for mTLS, a client CA) is known.
    if (!identity || (this.#mutualTls && !this.#ca)) {
      this.updateSecureContextOptions(null);
      return;
    }
    const ca = this.#ca ?? undefined;
    // sessionIdContext: fixed, not Node's default (a hash of process.argv), so workers started with
    // other arguments still accept each other's tickets; OpenSSL refuses to resume across contexts.
    const options: SecureContextOptions = { ca, cert: [identity.certificate], key: [identity.privateKey], sessionIdContext: SESSION_ID_CONTEXT };
    if (this.#ticketKeys) options.ticketKeys = ticketKeysFor(this.#ticketKeys, ca);
    this.updateSecureContextOptions(options);
  }
}
