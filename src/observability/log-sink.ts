/**
 * Where decision-log lines go: a bounded, asynchronous sink that drops (and reports) what it
 * cannot take instead of slowing Checks or growing without bound.
 */
import { fstatSync } from 'node:fs';
import sonicBoom from 'sonic-boom';

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

/**
 * What a sink reports: `dropped` when its buffer overflowed (lines lost), `failed` when writing
 * failed (disk full, closed file). The 'error' listener also keeps a failing sink from taking the
 * process down: without one, an 'error' event is thrown.
 */
export function watchSink(sink: LineSink | undefined, dropped: () => void, failed: (error: Error | undefined) => void): void {
  sink?.on?.('drop', dropped);
  sink?.on?.('error', failed);
}
