/**
 * A decision-log sink that ships lines to a service speaking OPA's decision-log API
 * (https://www.openpolicyagent.org/docs/management-decision-logs/): batches of events POSTed to
 * `<url>/logs` as one gzip-compressed JSON array each (`Content-Encoding: gzip`).
 *
 * Bounded like the local sinks: lines wait in memory up to `maxBufferBytes` (characters of JSON);
 * a write that does not fit is dropped whole and reported through the 'drop' event, synchronously,
 * so DecisionLog (and the cluster primary's relay) count it in gatehouse_decision_log_lines_total.
 * A line leaves the buffer only when the service accepted the batch holding it (2xx): a service
 * that is down, slow or answering errors is retried with exponential backoff while lines keep
 * queueing, and nothing is lost while the buffer has room. A 429 or 503 with `Retry-After` waits at
 * least that long (up to 5 minutes). A 413 (the batch is larger than the service takes) halves the
 * batch until it is accepted, and keeps that size; a single line the service refuses as too large
 * is dropped (reported like a buffer drop and through onUploadError) rather than retried forever,
 * which would stop every line behind it. Uploads run one at a time, after the
 * Checks' responses, on the event loop's idle time; compression runs on libuv's thread pool
 * (node:zlib). Nothing here ever throws into a Check.
 *
 * Lines arrive already masked: DecisionLog masks secret headers and decision_log_mask pointers
 * before it writes a line to any sink, and in cluster mode the workers mask before sending.
 */
import { readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { LineSink } from './log-sink.js';

const gzip = promisify(gzipCallback);

export interface RemoteLogSinkOptions {
  /** The service's base URL (http or https); events go to `<url>/logs`. */
  url: string;
  /** Most characters of JSON lines waiting to be accepted; a write beyond it is dropped. */
  maxBufferBytes: number;
  /** Sent as `Authorization: Bearer <token>`. */
  bearerToken?: string;
  /** mTLS client certificate and key (PEM files), re-read when they change (rotation). */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** CA bundle (PEM) the service's certificate must chain to; default: Node's trusted roots. */
  tlsCaFile?: string;
  /** A batch is sent once it holds this many characters of JSON (default 512 KiB). */
  batchBytes?: number;
  /** ... or this many ms after its first line arrived (default 1000). */
  batchMs?: number;
  /** One upload's deadline in ms, connection to response (default 10 000). */
  requestTimeoutMs?: number;
  /** Backoff after a failed upload: doubles from minRetryMs up to maxRetryMs, with jitter (defaults 500, 30 000). */
  minRetryMs?: number;
  maxRetryMs?: number;
  /** Called after each failed upload (the lines stay buffered and are retried). */
  onUploadError?: (error: Error, attempt: number) => void;
  /** Called after each accepted upload, with the number of events it carried. */
  onUploaded?: (events: number) => void;
}

const DEFAULT_BATCH_BYTES = 512 * 1024;
const DEFAULT_BATCH_MS = 1000;
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** The longest Retry-After honoured. */
const MAX_RETRY_AFTER_MS = 5 * 60_000;

/** A non-2xx answer: its status and, when it sent a usable Retry-After, how long to wait in ms. */
class UploadRefused extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
  }
}

/**
 * A Retry-After header (RFC 9110 section 10.2.3: delay-seconds or an HTTP-date) as ms from `nowMs`;
 * undefined when absent or unreadable, never negative, at most MAX_RETRY_AFTER_MS.
 */
export function retryAfterMs(header: string | undefined, nowMs: number = Date.now()): number | undefined {
  if (header === undefined) return undefined;
  const text = header.trim();
  // Every HTTP-date form starts with a day name; Date.parse alone would read "-5" as a year.
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : /^[A-Za-z]/.test(text) ? Date.parse(text) - nowMs : Number.NaN;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}

export class RemoteLogSink implements LineSink {
  readonly #options: RemoteLogSinkOptions;
  readonly #endpoint: URL;
  /** The endpoint as errors show it: without a user name or password from the URL. */
  readonly #shown: string;
  readonly #batchBytes: number;
  readonly #batchMs: number;
  /** Lines (JSON, without their newline) not yet accepted by the service, oldest first. */
  #lines: string[] = [];
  #bufferedChars = 0;
  #timer: NodeJS.Timeout | undefined;
  #uploading = false;
  /** A failed upload's backoff timer is pending: new lines wait for it, however many arrive. */
  #backingOff = false;
  #failures = 0;
  /** Most lines in one upload: unlimited until the service answers 413, then what it accepted. */
  #maxBatchLines = Number.POSITIVE_INFINITY;
  #closed = false;
  #request: http.ClientRequest | undefined;
  #tls: { agent: https.Agent | http.Agent; stamp: string } | undefined;
  readonly #dropListeners: (() => void)[] = [];
  #flushWaiters: (() => void)[] = [];

  constructor(options: RemoteLogSinkOptions) {
    this.#options = options;
    this.#endpoint = logsEndpoint(options.url);
    this.#shown = withoutCredentials(this.#endpoint.href);
    this.#batchBytes = options.batchBytes ?? DEFAULT_BATCH_BYTES;
    this.#batchMs = options.batchMs ?? DEFAULT_BATCH_MS;
    this.#agent(); // a missing or unreadable certificate fails start-up, not the first upload
  }

  /** `text`: one or more whole lines, each ending in "\n" (DecisionLog writes one, the cluster relay many). */
  write(text: string): void {
    if (this.#closed || this.#bufferedChars + text.length > this.#options.maxBufferBytes) {
      for (const listener of this.#dropListeners) listener();
      return;
    }
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      if (end > start) this.#lines.push(text.slice(start, end));
      start = end + 1;
    }
    if (start < text.length) this.#lines.push(text.slice(start));
    this.#bufferedChars += text.length;
    this.#schedule();
  }

  on(event: 'drop' | 'error', listener: () => void): void {
    // Upload failures are retried, not sink errors: 'error' would make DecisionLog drop lines for a while.
    if (event === 'drop') this.#dropListeners.push(listener);
  }

  /** Uploads everything buffered now; calls back once the service has accepted all of it. */
  flush(callback: (error?: Error | null) => void): void {
    if (this.#lines.length === 0 && !this.#uploading) {
      callback();
      return;
    }
    this.#flushWaiters.push(() => callback());
    this.#flushing = true;
    if (!this.#uploading) this.#upload();
  }

  #flushing = false;

  /** Discards what is buffered and aborts an upload in flight (shutdown past its flush timeout). */
  destroy(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#lines = [];
    this.#bufferedChars = 0;
    this.#request?.destroy();
    this.#tls?.agent.destroy();
  }

  /** Events waiting to be accepted by the service. */
  get pending(): number {
    return this.#lines.length;
  }

  #schedule(): void {
    if (this.#uploading || this.#backingOff || this.#closed) return;
    if (this.#bufferedChars >= this.#batchBytes) {
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.#upload(), 0).unref();
    } else {
      this.#timer ??= setTimeout(() => this.#upload(), this.#batchMs).unref();
    }
  }

  /** Sends the oldest lines (up to batchBytes, at least one) and, on success, takes them off the buffer. */
  #upload(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#backingOff = false;
    if (this.#closed || this.#uploading) return;
    if (this.#lines.length === 0) {
      this.#settleFlush();
      return;
    }
    this.#uploading = true;
    let count = 0;
    let chars = 0;
    while (count < this.#lines.length && (count === 0 || (count < this.#maxBatchLines && chars + this.#lines[count]!.length + 1 <= this.#batchBytes))) {
      chars += this.#lines[count]!.length + 1;
      count++;
    }
    const body = `[${this.#lines.slice(0, count).join(',')}]`;
    gzip(body)
      .then((compressed) => this.#post(compressed))
      .then(
        () => {
          this.#failures = 0;
          // The buffer may have been discarded meanwhile (destroy); only the uploaded lines go.
          if (!this.#closed) {
            this.#lines.splice(0, count);
            this.#bufferedChars = Math.max(0, this.#bufferedChars - chars);
          }
          this.#options.onUploaded?.(count);
          this.#uploading = false;
          if (this.#lines.length === 0) this.#settleFlush();
          if (this.#flushing || this.#bufferedChars >= this.#batchBytes) this.#upload();
          else if (this.#lines.length > 0) this.#schedule();
        },
        (error: unknown) => {
          this.#uploading = false;
          if (error instanceof UploadRefused && error.status === 413 && !this.#closed) {
            this.#tooLarge(error, count, chars);
            return;
          }
          this.#failures++;
          this.#options.onUploadError?.(error instanceof Error ? error : new Error(String(error)), this.#failures);
          if (this.#closed) return;
          this.#backingOff = true;
          const wait = Math.max(this.#backoffMs(), error instanceof UploadRefused ? (error.retryAfterMs ?? 0) : 0);
          this.#timer = setTimeout(() => this.#upload(), wait).unref();
        },
      );
  }

  /** A 413 for a batch of `count` lines (`chars` characters): send half as many, or drop a lone line. */
  #tooLarge(error: UploadRefused, count: number, chars: number): void {
    if (count > 1) {
      this.#maxBatchLines = Math.max(1, Math.floor(count / 2));
      this.#options.onUploadError?.(new Error(`${error.message}; sending at most ${this.#maxBatchLines} events per upload from now on`), 1);
    } else {
      this.#lines.splice(0, 1);
      this.#bufferedChars = Math.max(0, this.#bufferedChars - chars);
      for (const listener of this.#dropListeners) listener();
      this.#options.onUploadError?.(new Error(`${error.message}; one event (${chars} characters of JSON) is larger than the service accepts: dropped`), 1);
      if (this.#lines.length === 0) this.#settleFlush();
      // Not at once: a service refusing every event would otherwise be asked as fast as it answers.
      if (!this.#flushing) {
        this.#schedule();
        return;
      }
    }
    this.#upload();
  }

  #settleFlush(): void {
    this.#flushing = false;
    const waiters = this.#flushWaiters;
    this.#flushWaiters = [];
    for (const waiter of waiters) waiter();
  }

  /** Exponential backoff with full jitter in its upper half: minRetryMs · 2^(failures-1), capped. */
  #backoffMs(): number {
    const min = this.#options.minRetryMs ?? 500;
    const max = this.#options.maxRetryMs ?? 30_000;
    const ceiling = Math.min(max, min * 2 ** Math.min(this.#failures - 1, 30));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  #post(compressed: Buffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.#closed) {
        reject(new Error('the decision-log sink was closed'));
        return;
      }
      const headers: http.OutgoingHttpHeaders = {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        'content-length': compressed.length,
        'user-agent': 'gatehouse',
      };
      if (this.#options.bearerToken) headers.authorization = `Bearer ${this.#options.bearerToken}`;
      const client = this.#endpoint.protocol === 'https:' ? https : http;
      let agent: http.Agent;
      try {
        agent = this.#agent();
      } catch (error) {
        reject(error);
        return;
      }
      const request = client.request(this.#endpoint, { method: 'POST', headers, agent, timeout: this.#options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS });
      this.#request = request;
      const deadline = setTimeout(() => request.destroy(new Error(`no answer from ${this.#shown} within ${this.#options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS} ms`)), this.#options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
      deadline.unref();
      request.on('timeout', () => request.destroy(new Error(`the connection to ${this.#shown} went idle`)));
      request.on('error', (error) => {
        clearTimeout(deadline);
        reject(error);
      });
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        response.on('data', (chunk: Buffer) => {
          if (kept < 512) chunks.push(chunk);
          kept += chunk.length;
        });
        response.on('error', (error) => {
          clearTimeout(deadline);
          reject(error);
        });
        response.on('end', () => {
          clearTimeout(deadline);
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else {
            const header = response.headers['retry-after'];
            const wait = status === 429 || status === 503 ? retryAfterMs(header) : undefined;
            const asked = wait === undefined ? '' : ` (Retry-After: ${header})`;
            reject(new UploadRefused(`${this.#shown} answered HTTP ${status}${asked}: ${this.#withoutToken(Buffer.concat(chunks).toString('utf8')).slice(0, 200)}`, status, wait));
          }
        });
      });
      request.end(compressed);
    });
  }

  /** A service's error body as the log shows it: the bearer token, should the service echo the request's headers, as `***`. */
  #withoutToken(text: string): string {
    const token = this.#options.bearerToken;
    return token ? text.replaceAll(token, '***') : text;
  }

  /** The keep-alive agent; with a client certificate, rebuilt when the files change (a rotation). */
  #agent(): http.Agent {
    const { tlsCertFile, tlsKeyFile, tlsCaFile } = this.#options;
    const https_ = this.#endpoint.protocol === 'https:';
    const files = [tlsCertFile, tlsKeyFile, tlsCaFile].filter((file): file is string => file !== undefined);
    const stamp = files.map((file) => `${file}:${statSync(file).mtimeMs}`).join('|');
    if (this.#tls && this.#tls.stamp === stamp) return this.#tls.agent;
    this.#tls?.agent.destroy();
    const agent = https_
      ? new https.Agent({
          keepAlive: true,
          maxSockets: 1,
          ...(tlsCertFile && { cert: readFileSync(tlsCertFile) }),
          ...(tlsKeyFile && { key: readFileSync(tlsKeyFile) }),
          ...(tlsCaFile && { ca: readFileSync(tlsCaFile) }),
        })
      : new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.#tls = { agent, stamp };
    return agent;
  }
}

/** `<url>/logs`, the decision-log API's resource (OPA's default `resource`). */
export function logsEndpoint(url: string): URL {
  const base = new URL(url);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error(`${url} is not an http or https URL`);
  base.pathname = `${base.pathname.replace(/\/+$/, '')}/logs`;
  return base;
}

/**
 * `url` for logs and error messages: a user name and password in it (`https://user:secret@host/`,
 * which node:http sends as Basic authentication) are replaced by `***`. Text that is not a URL is
 * returned as is.
 */
export function withoutCredentials(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  if (!parsed.username && !parsed.password) return url;
  parsed.username = '***';
  parsed.password = '';
  return parsed.href;
}
