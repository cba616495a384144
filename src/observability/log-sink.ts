/**
 * Where decision-log lines go: a bounded, asynchronous sink that drops (and reports) what it
 * cannot take instead of slowing Checks or growing without bound.
 */
import { fstatSync } from 'node:fs';
import sonicBoom from 'sonic-boom';
import type { Config } from '../config/schema.js';
import type { Logger } from './logger.js';
import { RemoteLogSink, withoutCredentials } from './remote-log-sink.js';

// sonic-boom is CommonJS; its typings describe the class as the default export, Node gives the
// module object with the class on `SonicBoom`.
const SonicBoom = (sonicBoom as unknown as { SonicBoom: typeof import('sonic-boom').SonicBoom }).SonicBoom;

export interface LineSink {
  write(line: string): void;
  flush?(callback: (error?: Error | null) => void): void;
  on?(event: 'drop' | 'error', listener: (error?: Error) => void): void;
  destroy?(): void;
  reopen?(): void;
}

/**
 * The destination for `decision_log`: stdout, stderr, or a file, asynchronous, with a bounded
 * buffer (lines beyond it are dropped and reported through the 'drop' event).
 *
 * Files are written by pino's SonicBoom. Pipes, sockets and terminals on stdout/stderr go through
 * Node's own non-blocking stream instead: a blocking write to a pipe nobody reads would park a
 * libuv thread forever, and the process could then never exit.
 */
export function openDecisionLogSink(target: string, maxBufferBytes: number): LineSink | undefined {
  if (target === 'off') return undefined;
  const options = { sync: false, minLength: 0, maxLength: maxBufferBytes, mkdir: true, contentMode: 'buffer' as const, maxWrite: MAX_WRITE_BYTES };
  if (target !== 'stdout' && target !== 'stderr') return new BufferedFileSink(new SonicBoom({ ...options, dest: target }));
  const fd = target === 'stdout' ? 1 : 2;
  if (fstatSync(fd).isFile()) return new BufferedFileSink(new SonicBoom({ ...options, fd }));
  return new BoundedStreamSink(fd === 1 ? process.stdout : process.stderr, maxBufferBytes);
}

type DecisionLogConfig = Pick<
  Config,
  | 'decision_log'
  | 'decision_log_buffer_bytes'
  | 'decision_log_service_url'
  | 'decision_log_service_bearer_token'
  | 'decision_log_service_tls_cert_file'
  | 'decision_log_service_tls_key_file'
  | 'decision_log_service_tls_ca_file'
>;

/** Whether decision-log lines go anywhere: the local `decision_log` target, the remote service, or both. */
export function decisionLogEnabled(config: DecisionLogConfig): boolean {
  return config.decision_log !== 'off' || config.decision_log_service_url !== undefined;
}

export interface SinkHooks {
  /** A failed upload to decision_log_service_url (lines stay buffered and are retried). */
  onUploadError?: (error: Error, attempt: number) => void;
}

/** Hooks that report failed uploads to the operational log: the first of a run, then at most once a minute. */
export function loggingSinkHooks(logger: Pick<Logger, 'warn'>, url: string | undefined): SinkHooks {
  let lastMs = Number.NEGATIVE_INFINITY;
  return {
    onUploadError: (error, attempt) => {
      const now = Date.now();
      if (attempt > 1 && now - lastMs < 60_000) return;
      lastMs = now;
      logger.warn({ error: error.message, attempt, decision_log_service_url: url === undefined ? url : withoutCredentials(url) }, 'decision-log upload failed; the lines stay buffered and are retried with backoff (past decision_log_buffer_bytes new lines are dropped and counted)');
    },
  };
}

/**
 * The sink the configuration names: the local `decision_log` target (openDecisionLogSink), the
 * decision-log service (`decision_log_service_url`, RemoteLogSink), or both behind one LineSink
 * (each with its own decision_log_buffer_bytes). Used by the single process (app.ts) and by the
 * cluster primary, which writes every worker's lines into it. Throws, naming the key, when the
 * service settings are inconsistent or a certificate file cannot be read (start-up fails).
 */
export function openConfiguredDecisionLogSink(config: DecisionLogConfig, hooks: SinkHooks = {}): LineSink | undefined {
  const local = openDecisionLogSink(config.decision_log, config.decision_log_buffer_bytes);
  const url = config.decision_log_service_url;
  if (url === undefined) return local;
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // reported below
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.search || parsed.hash) {
    throw new Error(`decision_log_service_url must be an http:// or https:// URL without a query or fragment (events go to <url>/logs), got ${JSON.stringify(withoutCredentials(url))}. Fix: e.g. https://decision-logs.example.com/v1`);
  }
  const { decision_log_service_tls_cert_file: certFile, decision_log_service_tls_key_file: keyFile, decision_log_service_tls_ca_file: caFile } = config;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new Error('decision_log_service_tls_cert_file and decision_log_service_tls_key_file must be set together. Fix: set both, or neither');
  }
  if ((certFile !== undefined || caFile !== undefined) && !url.startsWith('https:')) {
    throw new Error(`decision_log_service_tls_* files need an https:// decision_log_service_url (got ${withoutCredentials(url)}). Fix: use https://, or unset the TLS files`);
  }
  let remote: RemoteLogSink;
  try {
    remote = new RemoteLogSink({
      url,
      maxBufferBytes: config.decision_log_buffer_bytes,
      bearerToken: config.decision_log_service_bearer_token,
      tlsCertFile: certFile,
      tlsKeyFile: keyFile,
      tlsCaFile: caFile,
      onUploadError: hooks.onUploadError,
    });
  } catch (error) {
    throw new Error(`decision_log_service_tls_cert_file, _key_file or _ca_file cannot be read: ${(error as Error).message}. Fix: point them at readable PEM files`);
  }
  return local ? new TeeSink([local, remote]) : remote;
}

/**
 * Every line to each of several sinks. A line one of them drops is reported as dropped (it did not
 * reach every destination); an error of one is an error of the whole (DecisionLog then pauses it).
 */
class TeeSink implements LineSink {
  readonly #sinks: readonly LineSink[];
  readonly #dropListeners: (() => void)[] = [];
  #droppedNow = false;

  constructor(sinks: readonly LineSink[]) {
    this.#sinks = sinks;
    for (const sink of sinks) sink.on?.('drop', () => (this.#droppedNow = true));
  }

  /** Writes to every sink even when one throws (a destroyed file sink); then rethrows the first error. */
  write(line: string): void {
    this.#droppedNow = false;
    let failure: unknown;
    for (const sink of this.#sinks) {
      try {
        sink.write(line);
      } catch (error) {
        failure ??= error;
      }
    }
    if (this.#droppedNow) for (const listener of this.#dropListeners) listener();
    if (failure !== undefined) throw failure;
  }

  on(event: 'drop' | 'error', listener: (error?: Error) => void): void {
    if (event === 'drop') this.#dropListeners.push(listener);
    else for (const sink of this.#sinks) sink.on?.('error', listener);
  }

  flush(callback: (error?: Error | null) => void): void {
    let waiting = this.#sinks.length;
    let failure: Error | null | undefined;
    for (const sink of this.#sinks) {
      const done = (error?: Error | null) => {
        failure ??= error;
        if (--waiting === 0) callback(failure);
      };
      if (sink.flush) sink.flush(done);
      else done();
    }
  }

  destroy(): void {
    for (const sink of this.#sinks) sink.destroy?.();
  }

  reopen(): void {
    for (const sink of this.#sinks) sink.reopen?.();
  }
}

/** Largest single write(2) of buffered lines. */
const MAX_WRITE_BYTES = 256 * 1024;

type SonicBoomInstance = InstanceType<typeof SonicBoom>;

/**
 * SonicBoom in buffer mode: each line is encoded to UTF-8 once and kept as its own Buffer until a
 * write gathers them. (In its default string mode SonicBoom appends lines to one string and
 * measures that string's UTF-8 length on every write, copying the pending text once per line.)
 */
class BufferedFileSink implements LineSink {
  readonly #sonic: SonicBoomInstance;
  /** Bytes accepted and not yet written (SonicBoom's own flush returns at once when minLength is 0). */
  #pending = 0;
  #droppedNow = false;

  constructor(sonic: SonicBoomInstance) {
    this.#sonic = sonic;
    sonic.on('drop', () => {
      this.#droppedNow = true;
    });
    sonic.on('write', (bytes: number) => {
      this.#pending = Math.max(0, this.#pending - bytes);
    });
  }

  write(line: string): void {
    const bytes = Buffer.from(line, 'utf8');
    this.#droppedNow = false;
    this.#sonic.write(bytes as unknown as string);
    if (!this.#droppedNow) this.#pending += bytes.length;
  }

  /** Calls back once every accepted line has been written (or the sink failed). */
  flush(callback: (error?: Error | null) => void): void {
    if (this.#pending === 0) {
      callback();
      return;
    }
    const sonic = this.#sonic;
    const onDrain = () => {
      sonic.off('error', onError);
      callback();
    };
    const onError = (error: Error) => {
      sonic.off('drain', onDrain);
      callback(error);
    };
    sonic.once('drain', onDrain);
    sonic.once('error', onError);
  }

  on(event: 'drop' | 'error', listener: (error?: Error) => void): void {
    this.#sonic.on(event, listener);
  }

  destroy(): void {
    this.#sonic.destroy();
  }

  reopen(): void {
    this.#sonic.reopen();
  }
}

/** A writable stream with a cap on what may wait in its buffer. */
class BoundedStreamSink implements LineSink {
  readonly #stream: NodeJS.WriteStream;
  readonly #maxBufferBytes: number;
  readonly #dropListeners: (() => void)[] = [];

  constructor(stream: NodeJS.WriteStream, maxBufferBytes: number) {
    this.#stream = stream;
    this.#maxBufferBytes = maxBufferBytes;
    stream.on('error', () => undefined); // a closed pipe: lines are lost, Checks go on
  }

  write(line: string): void {
    if (this.#stream.destroyed || this.#stream.writableLength + line.length > this.#maxBufferBytes) {
      for (const listener of this.#dropListeners) listener();
      return;
    }
    this.#stream.write(line);
  }

  on(event: 'drop' | 'error', listener: () => void): void {
    if (event === 'drop') this.#dropListeners.push(listener);
  }

  flush(callback: () => void): void {
    if (this.#stream.writableLength === 0) callback();
    else this.#stream.once('drain', callback);
  }

  destroy(): void {
    this.#stream.destroy();
  }
}

/**
 * Flush what `sink` holds, waiting at most `timeoutMs`, then give up on it: a stalled sink must not
 * block shutdown, so what it has not taken by then is discarded (`destroy`). Resolves, never rejects.
 */
export function closeSink(sink: LineSink | undefined, timeoutMs: number): Promise<'flushed' | 'timed_out'> {
  if (!sink?.flush) return Promise.resolve('flushed');
  return new Promise<'flushed' | 'timed_out'>((resolve) => {
    const timer = setTimeout(() => resolve('timed_out'), timeoutMs);
    timer.unref();
    try {
      sink.flush!(() => {
        clearTimeout(timer);
        resolve('flushed');
      });
    } catch {
      clearTimeout(timer);
      resolve('flushed');
    }
  }).then((result) => {
    if (result === 'timed_out') sink.destroy?.();
    return result;
  });
}

/** After a sink error, lines are dropped without trying for this long, then the sink is reopened. */
const SINK_RETRY_MS = 10_000;
/** Sink errors reach the operational log at most this often. */
const SINK_REPORT_MS = 60_000;

/**
 * Writes whole lines to a sink the same way wherever gatehouse writes decision lines (DecisionLog
 * in a single process or worker, the cluster primary's relay): a line the sink's buffer cannot
 * take is dropped; a sink that fails (disk full, closed file) drops lines for SINK_RETRY_MS, then
 * is reopened and tried again; failures are reported to `onError` at most once a minute. Its
 * 'error' listener also keeps a failing sink from taking the process down (an 'error' event
 * without a listener is thrown).
 */
export class GuardedSink {
  readonly sink: LineSink;
  readonly #onError: (error: Error | undefined) => void;
  #dropped = false;
  /** When the sink last failed; for SINK_RETRY_MS after that, lines are dropped without trying. */
  #failedAtMs: number | undefined;
  #reportedAtMs = -Infinity;

  constructor(sink: LineSink, onError: (error: Error | undefined) => void) {
    this.sink = sink;
    this.#onError = onError;
    sink.on?.('drop', () => (this.#dropped = true));
    sink.on?.('error', (error) => {
      this.#dropped = true;
      this.#failedAtMs = Date.now();
      this.#report(error);
    });
  }

  /** `text`: whole lines, each ending in "\n". Whether they were handed to the sink or dropped. */
  write(text: string): 'written' | 'dropped' {
    if (this.#failedAtMs !== undefined) {
      if (Date.now() - this.#failedAtMs < SINK_RETRY_MS) return 'dropped';
      this.#failedAtMs = undefined;
      try {
        this.sink.reopen?.();
      } catch {
        // The next write fails and reports again.
      }
    }
    this.#dropped = false;
    try {
      this.sink.write(text);
    } catch (error) {
      // A sink that failed earlier throws on write ("SonicBoom destroyed"): count, do not crash.
      this.#dropped = true;
      this.#report(error as Error);
    }
    return this.#dropped ? 'dropped' : 'written';
  }

  #report(error: Error | undefined): void {
    const now = Date.now();
    if (now - this.#reportedAtMs < SINK_REPORT_MS) return;
    this.#reportedAtMs = now;
    this.#onError(error);
  }
}
