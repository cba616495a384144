/**
 * Serving certificate, key and client CA bundle for gatehouse's own gRPC listener, re-read when
 * the files change. A new set is validated before it is used (certificate and key parse, belong
 * together, and make a TLS context); a bad or half-written set is rejected and the current one
 * keeps serving. Existing connections are untouched; new handshakes use the new set.
 *
 * Implements grpc-js' CertificateProvider, for both the identity and the CA roles.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import type { experimental } from '@grpc/grpc-js';
import { GatehouseError, describeThrown } from '../errors.js';
import type { TrustBundles } from '../identity/client-certificate.js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  caFile?: string;
  /** Per-trust-domain client CAs (tls_client_trust_bundles): trust domain → PEM file. */
  trustBundles?: ReadonlyMap<string, string>;
}

export interface TlsMaterial {
  certificate: Buffer;
  privateKey: Buffer;
  /** Every client CA the handshake accepts: caFile, or all trust bundles together. */
  caCertificate?: Buffer;
  /** With trustBundles: each trust domain's certificates, for the per-Check issuer check. */
  trustBundles?: TrustBundles;
  /** Parsed serving certificate, for expiry and logging. */
  leaf: X509Certificate;
}

export type TlsReloadResult =
  | { status: 'loaded'; material: TlsMaterial }
  | { status: 'failed'; error: GatehouseError };

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

export class ReloadingCertificateProvider implements experimental.CertificateProvider {
  #current: TlsMaterial | undefined;
  readonly #files: TlsFiles;
  readonly #caListeners = new Set<CaListener>();
  readonly #identityListeners = new Set<IdentityListener>();
  readonly #onReload: (result: TlsReloadResult) => void;
  #timer: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #watchers: FSWatcher[] = [];
  #checking = false;

  constructor(files: TlsFiles, onReload: (result: TlsReloadResult) => void) {
    this.#files = files;
    this.#onReload = onReload;
  }

  current(): TlsMaterial | undefined {
    return this.#current;
  }

  /** First load; throws (naming the file) when the set is unusable, so start-up fails clearly. */
  async load(): Promise<TlsMaterial> {
    this.#current = await readMaterial(this.#files);
    return this.#current;
  }

  /** Watch the files (events, debounced) and poll every `intervalMs` as a fallback. */
  start(intervalMs: number): void {
    this.#timer = setInterval(() => void this.check(), intervalMs);
    this.#timer.unref();
    const files = [this.#files.certFile, this.#files.keyFile, this.#files.caFile, ...(this.#files.trustBundles?.values() ?? [])].filter((f): f is string => f !== undefined);
    for (const dir of new Set(files.map((f) => path.dirname(path.resolve(f))))) {
      try {
        const watcher = watch(dir, { persistent: false }, () => {
          if (this.#debounce) clearTimeout(this.#debounce);
          this.#debounce = setTimeout(() => void this.check(), 100);
          this.#debounce.unref();
        });
        watcher.on('error', () => undefined); // polling still covers this directory
        this.#watchers.push(watcher);
      } catch {
        // Polling covers it.
      }
    }
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    if (this.#debounce) clearTimeout(this.#debounce);
    for (const watcher of this.#watchers) watcher.close();
    this.#watchers = [];
  }

  /** Re-read the files; publish them if they changed and are valid. */
  async check(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      const next = await readMaterial(this.#files);
      const current = this.#current;
      if (
        current &&
        next.certificate.equals(current.certificate) &&
        next.privateKey.equals(current.privateKey) &&
        (next.caCertificate ?? Buffer.alloc(0)).equals(current.caCertificate ?? Buffer.alloc(0)) &&
        bundleKey(next.trustBundles) === bundleKey(current.trustBundles)
      ) {
        return;
      }
      this.#current = next;
      for (const listener of this.#caListeners) listener(next.caCertificate ? { caCertificate: next.caCertificate } : null);
      for (const listener of this.#identityListeners) listener({ certificate: next.certificate, privateKey: next.privateKey });
      this.#onReload({ status: 'loaded', material: next });
    } catch (error) {
      this.#onReload({ status: 'failed', error: error as GatehouseError });
    } finally {
      this.#checking = false;
    }
  }

  // grpc-js registers its own watcher only after adding these listeners, so the current material is
  // delivered on the next tick rather than synchronously (a synchronous update would be missed).
  addCaCertificateListener(listener: CaListener): void {
    this.#caListeners.add(listener);
    queueMicrotask(() => {
      const current = this.#current;
      if (current && this.#caListeners.has(listener)) listener(current.caCertificate ? { caCertificate: current.caCertificate } : null);
    });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.add(listener);
    queueMicrotask(() => {
      const current = this.#current;
      if (current && this.#identityListeners.has(listener)) listener({ certificate: current.certificate, privateKey: current.privateKey });
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.delete(listener);
  }
}

/** Which certificates belong to which trust domain, as a comparable string. */
function bundleKey(bundles: TrustBundles | undefined): string {
  return JSON.stringify([...(bundles ?? [])].map(([domain, certificates]) => [domain, certificates.map((c) => c.fingerprint256)]));
}

async function readMaterial(files: TlsFiles): Promise<TlsMaterial> {
  const read = async (file: string, key: string) => {
    try {
      return await readFile(file);
    } catch (error) {
      throw new GatehouseError('config_invalid', `${key} ${file} cannot be read: ${describeThrown(error)}`);
    }
  };
  const certificate = await read(files.certFile, 'tls_cert_file');
  const privateKey = await read(files.keyFile, 'tls_key_file');
  const bundles = files.trustBundles ? await readTrustBundles(files.trustBundles, read) : undefined;
  const caCertificate = files.caFile ? await read(files.caFile, 'tls_client_ca_file') : bundles?.pem;
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certificate);
  } catch (error) {
    throw new GatehouseError('config_invalid', `tls_cert_file ${files.certFile} is not a PEM certificate: ${describeThrown(error)}`);
  }
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(privateKey))) {
      throw new Error('the key does not belong to the certificate');
    }
  } catch (error) {
    throw new GatehouseError('config_invalid', `tls_key_file ${files.keyFile} does not match tls_cert_file: ${describeThrown(error)}`);
  }
  try {
    createSecureContext({ cert: certificate, key: privateKey, ca: caCertificate });
  } catch (error) {
    throw new GatehouseError('config_invalid', `the TLS files do not make a usable TLS context: ${describeThrown(error)}`);
  }
  if (caCertificate && !caCertificate.includes('-----BEGIN CERTIFICATE-----')) {
    throw new GatehouseError('config_invalid', `tls_client_ca_file ${files.caFile} holds no PEM certificate`);
  }
  return { certificate, privateKey, caCertificate, trustBundles: bundles?.byDomain, leaf };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** Each trust domain's file, parsed into certificates (every one a CA), and all of them as one PEM list. */
async function readTrustBundles(
  bundles: ReadonlyMap<string, string>,
  read: (file: string, key: string) => Promise<Buffer>,
): Promise<{ pem: Buffer; byDomain: TrustBundles }> {
  const byDomain = new Map<string, X509Certificate[]>();
  const pems: string[] = [];
  for (const [domain, file] of bundles) {
    const blocks = (await read(file, `tls_client_trust_bundles (${domain})`)).toString('utf8').match(PEM_CERTIFICATE) ?? [];
    if (blocks.length === 0) throw new GatehouseError('config_invalid', `tls_client_trust_bundles: ${file} (trust domain ${domain}) holds no PEM certificate`);
    const certificates = blocks.map((pem) => {
      try {
        return new X509Certificate(pem);
      } catch (error) {
        throw new GatehouseError('config_invalid', `tls_client_trust_bundles: ${file} (trust domain ${domain}) has a certificate that does not parse: ${describeThrown(error)}`);
      }
    });
    const notCa = certificates.find((certificate) => !certificate.ca);
    if (notCa) throw new GatehouseError('config_invalid', `tls_client_trust_bundles: ${file} (trust domain ${domain}) holds ${notCa.subject.split('\n').join(', ')}, which is not a CA certificate`);
    byDomain.set(domain, certificates);
    pems.push(...blocks);
  }
  return { pem: Buffer.from(`${pems.join('\n')}\n`), byDomain };
}
