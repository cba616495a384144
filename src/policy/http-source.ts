/**
 * A bundle served over HTTP(S), compatible with OPA's bundle service protocol
 * (https://www.openpolicyagent.org/docs/management-bundles/): `GET <url>` returns the
 * `.tar.gz`; gatehouse sends `If-None-Match` with the last `ETag` and treats 304 as unchanged, so
 * any static file server works. Downloads are capped; a server that hangs, errs or sends garbage
 * is retried with exponential backoff, never touching Checks.
 */
import { GatehouseError, describeThrown } from '../errors.js';

export interface HttpSourceOptions {
  url: string;
  bearerToken?: string;
  /** Polling interval bounds; each wait is drawn uniformly between them (jitter). */
  minDelayMs: number;
  maxDelayMs: number;
  /** Longest a single download may take. */
  timeoutMs: number;
  /** Largest download accepted (compressed bytes). */
  maxBytes: number;
}

export type FetchResult = { status: 'unchanged' } | { status: 'fetched'; bytes: Buffer; etag: string | undefined };

export class HttpBundleSource {
  readonly #options: HttpSourceOptions;
  #etag: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  #stopped = false;

  constructor(options: HttpSourceOptions) {
    this.#options = options;
  }

  get url(): string {
    return this.#options.url;
  }

  /** One download; throws GatehouseError('bundle_read_error') on any transport or HTTP failure. */
  async fetch(): Promise<FetchResult> {
    const headers: Record<string, string> = { accept: 'application/gzip, application/octet-stream' };
    if (this.#etag) headers['if-none-match'] = this.#etag;
    if (this.#options.bearerToken) headers.authorization = `Bearer ${this.#options.bearerToken}`;
    let response: Response;
    try {
      response = await fetch(this.#options.url, { headers, signal: AbortSignal.timeout(this.#options.timeoutMs), redirect: 'follow' });
    } catch (error) {
      throw new GatehouseError('bundle_read_error', `cannot download ${this.#options.url}: ${describeThrown(error)}`);
    }
    if (response.status === 304) {
      await response.body?.cancel();
      return { status: 'unchanged' };
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new GatehouseError('bundle_read_error', `bundle server answered ${response.status} ${response.statusText} for ${this.#options.url}`);
    }
    const declared = Number(response.headers.get('content-length') ?? NaN);
    if (declared > this.#options.maxBytes) {
      await response.body?.cancel();
      throw new GatehouseError('bundle_invalid', `bundle download is ${declared} bytes, over max_bundle_bytes (${this.#options.maxBytes})`);
    }
    const bytes = await readCapped(response, this.#options.maxBytes, this.#options.url);
    return { status: 'fetched', bytes, etag: response.headers.get('etag') ?? undefined };
  }

  /** Remember the ETag of a bundle once it has been handled (activated or rejected). */
  acknowledge(etag: string | undefined): void {
    this.#etag = etag;
  }

  /**
   * Poll: after each attempt, wait a jittered interval; after failures, back off exponentially
   * (up to 32× the maximum interval).
   */
  start(poll: () => Promise<boolean>): void {
    const schedule = () => {
      if (this.#stopped) return;
      const delay = pollDelayMs(this.#failures, this.#options.minDelayMs, this.#options.maxDelayMs, Math.random());
      this.#timer = setTimeout(() => {
        poll().then(
          (ok) => {
            this.#failures = ok ? 0 : this.#failures + 1;
            schedule();
          },
          () => {
            this.#failures++;
            schedule();
          },
        );
      }, delay);
      this.#timer.unref();
    };
    schedule();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }
}

/**
 * The wait before the next poll: uniform between min and max (jitter, so a fleet does not poll in
 * step), doubled for every consecutive failure, capped at 32× max.
 */
export function pollDelayMs(failures: number, minDelayMs: number, maxDelayMs: number, random: number): number {
  const base = minDelayMs + random * (maxDelayMs - minDelayMs);
  return failures === 0 ? base : Math.min(base * 2 ** failures, maxDelayMs * 32);
}

async function readCapped(response: Response, maxBytes: number, url: string): Promise<Buffer> {
  const reader = response.body?.getReader();
  if (!reader) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel();
        throw new GatehouseError('bundle_invalid', `bundle download from ${url} exceeds max_bundle_bytes (${maxBytes})`);
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof GatehouseError) throw error;
    throw new GatehouseError('bundle_read_error', `download of ${url} failed: ${describeThrown(error)}`);
  }
  return Buffer.concat(chunks);
}
