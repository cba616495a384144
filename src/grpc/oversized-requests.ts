/**
 * Every Check call gets a CheckResponse (a deny when the gRPC framing is not one plain message
 * within the limit), never an RPC error: Envoy turns an RPC error into an allow under
 * `failure_mode_allow: true`. And an oversized CheckRequest is answered as soon as its length is
 * known, not after its last byte: Envoy's ext_authz timeout (200 ms by default) counts from the
 * first byte it sends, and a 65 MiB message takes longer than that to cross the wire.
 *
 * grpc-js enforces `grpc.max_receive_message_length` inside its call object
 * (`BaseServerInterceptingCall`, node_modules/@grpc/grpc-js/build/src/server-interceptors.js): its
 * `StreamDecoder` reads each message's 5-byte gRPC prefix (compressed flag, 32-bit length) and,
 * when the length is over the limit, throws; the call then answers RESOURCE_EXHAUSTED itself, past
 * every interceptor and handler. It inflates compressed messages up to that limit in memory (a
 * 255 KB gzip bomb holds 64 MiB), and answers a truncated stream, a second message or an unknown
 * encoding with UNIMPLEMENTED or INTERNAL.
 *
 * So a server interceptor, which grpc-js hands the call object right after creating it and before
 * any DATA frame is read, swaps in `DiscardingDecoder`. It frames messages as grpc-js' decoder
 * does, but reads one message per call (Check is unary): once the prefix of a message over the
 * limit, or of a compressed one, is read, it delivers a marker at once and discards every later
 * byte as it arrives (nothing is kept). The call it wraps (`CheckCall`) passes a marker on to the
 * handler together with an early half-close, so the handler answers a deny right away; grpc-js' own
 * half-close, when the client finally sends it, is swallowed. At the real half-close, a message cut
 * short, missing, or followed by more bytes becomes a marker too. The Check handler recognises a
 * marker (`framingProblem`) and denies. A marker is a buffer only this module creates, recognised
 * by identity, so no client can forge one.
 *
 * Compressed messages are refused rather than inflated: Envoy's own gRPC client never sets the
 * compressed flag (source/common/grpc/common.cc, `serializeToGrpcFrame` writes flags 0), so only
 * a google_grpc client configured to compress, or an attacker, sends one.
 *
 * test/integration/oversized-request.test.ts pins this to the grpc-js version in use: if a new
 * version renames these internals, that test fails instead of the limit silently failing open.
 */
import type { ServerInterceptingCallInterface, ServerInterceptor } from '@grpc/grpc-js';
import { ServerInterceptingCall } from '@grpc/grpc-js';
import { constants as http2Constants, type Http2Stream } from 'node:http2';

/** Why the call's bytes are not one plain CheckRequest within the limit. */
export type FramingProblem =
  /** The message declared `bytes`, more than `limit`. */
  | { kind: 'oversized'; bytes: number; limit: number }
  /** The message's compressed-flag byte was `flag` (not 0). */
  | { kind: 'compressed'; flag: number }
  /** The stream ended inside a message: `received` of `declared` bytes (undefined: inside the prefix). */
  | { kind: 'truncated'; received: number; declared: number | undefined }
  /** The stream ended without a message. */
  | { kind: 'missing' }
  /** More bytes followed the message (a second message in a unary call). */
  | { kind: 'extra'; bytes: number };

const markers = new WeakMap<ArrayBufferLike, FramingProblem>();

/** The marker's facts when `request` stands for a framing problem; undefined otherwise. */
export function framingProblem(request: Uint8Array): FramingProblem | undefined {
  return request.byteLength === 0 ? markers.get(request.buffer) : undefined;
}

/** A fresh zero-length view on a buffer of its own, registered as a marker (framed or not). */
function marker(facts: FramingProblem, framed: boolean): Buffer {
  // Buffer.alloc never uses the shared pool, so the ArrayBuffer belongs to this marker alone.
  const owner = Buffer.alloc(framed ? 5 : 1);
  markers.set(owner.buffer, facts);
  // Framed: flag 0, length 0; grpc-js passes on `subarray(5)`, a zero-length view on the same memory.
  return framed ? owner : owner.subarray(0, 0);
}

/** The parts of grpc-js' call object this module replaces or uses (see the file comment). */
interface GrpcJsBaseCall {
  decoder: { write(data: Buffer): Buffer[] };
  stream?: Http2Stream;
}

function isBaseCall(call: unknown): call is GrpcJsBaseCall {
  const candidate = call as Partial<GrpcJsBaseCall> | undefined;
  return typeof candidate?.decoder?.write === 'function';
}

/** The call grpc-js created, below any interceptors that wrapped it. */
function baseCall(call: ServerInterceptingCallInterface): GrpcJsBaseCall | undefined {
  let current: unknown = call;
  for (let depth = 0; depth < 16 && current; depth++) {
    if (isBaseCall(current)) return current;
    current = (current as { nextCall?: unknown }).nextCall;
  }
  return undefined;
}

/**
 * The interceptor for `methodPath` (the Check method). `onUnsupported` is called once if the
 * grpc-js internals are not what this module expects (then grpc-js' own limit applies unchanged).
 */
export function boundedRequests(methodPath: string, limit: number, onUnsupported: () => void): ServerInterceptor {
  let warned = false;
  return (method, call) => {
    if (method.path === methodPath) {
      const base = baseCall(call);
      if (base) {
        const decoder = new DiscardingDecoder(limit);
        base.decoder = decoder;
        return new CheckCall(call, decoder, base.stream);
      }
      if (!warned) {
        warned = true;
        onUnsupported();
      }
    }
    return new ServerInterceptingCall(call);
  };
}

/** grpc-js' listener type (not exported by name). */
type CallListener = Parameters<ServerInterceptingCallInterface['start']>[0];

/**
 * Delivers to the handler exactly one message and one half-close: a marker with an immediate
 * half-close as soon as the decoder produces one; otherwise, at the client's half-close, the
 * message, or a marker when the stream did not carry exactly one whole message.
 *
 * After answering early, the stream is reset with NO_ERROR once the response's trailers are out:
 * RFC 9113 section 8.1 lets a server that sent a complete response ask the client to stop
 * sending that way. Without it Envoy keeps pushing the rest of the message down the connection it
 * shares with every other Check, which wait behind it.
 */
class CheckCall extends ServerInterceptingCall {
  readonly #decoder: DiscardingDecoder;
  readonly #stream: Http2Stream | undefined;
  #early = false;

  constructor(call: ServerInterceptingCallInterface, decoder: DiscardingDecoder, stream: Http2Stream | undefined) {
    super(call);
    this.#decoder = decoder;
    this.#stream = stream;
  }

  override sendStatus(status: Parameters<ServerInterceptingCallInterface['sendStatus']>[0]): void {
    super.sendStatus(status);
    const stream = this.#stream;
    // grpc-js sends the trailers from its own 'wantTrailers' listener, registered above; this one
    // runs after it. The reset waits a turn of the event loop: sent from inside that listener,
    // nghttp2 puts RST_STREAM ahead of the trailers still queued, and Envoy sees a reset, not a
    // response.
    if (this.#early && stream && !stream.closed) {
      stream.once('wantTrailers', () => setImmediate(() => stream.closed || stream.close(http2Constants.NGHTTP2_NO_ERROR)));
    }
  }

  override start(listener: CallListener): void {
    let held: Buffer | undefined;
    let answered = false;
    const deliver = (message: Buffer) => {
      answered = true;
      listener.onReceiveMessage(message);
      listener.onReceiveHalfClose();
    };
    super.start({
      onReceiveMetadata: (metadata) => listener.onReceiveMetadata(metadata),
      onReceiveMessage: (message: Buffer) => {
        if (answered) return;
        if (framingProblem(message)) {
          this.#early = true;
          return deliver(message);
        }
        // The decoder emits at most one message; keep reading to learn whether the stream ends cleanly.
        held = message;
        this.startRead();
      },
      onReceiveHalfClose: () => {
        if (answered) return;
        const problem = this.#decoder.endProblem();
        deliver(problem || !held ? marker(problem ?? { kind: 'missing' }, false) : held);
      },
      onCancel: () => listener.onCancel(),
    });
  }
}

const PREFIX_BYTES = 5;

/**
 * gRPC length-prefixed message framing (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md),
 * producing what grpc-js' StreamDecoder produces (the message with its 5-byte prefix) for the
 * first message of the stream, if it is uncompressed and within `limit`; otherwise a marker, as
 * soon as the prefix is read. Every byte after the first message or marker is counted and dropped.
 */
export class DiscardingDecoder {
  readonly #limit: number;
  #prefix = Buffer.alloc(PREFIX_BYTES);
  #prefixRead = 0;
  #parts: Buffer[] = [];
  /** Bytes of the message still to come; -1 while reading the prefix. */
  #remaining = -1;
  #length = 0;
  /** A message or marker was emitted: everything after it is dropped. */
  #done = false;
  /** Dropped after the (whole) message; `extra` when there was no marker. */
  #trailing = 0;
  #marked = false;

  constructor(limit: number) {
    this.#limit = limit;
  }

  write(data: Buffer): Buffer[] {
    if (this.#done) {
      this.#trailing += data.length;
      return [];
    }
    let at = 0;
    if (this.#remaining === -1) {
      const take = Math.min(PREFIX_BYTES - this.#prefixRead, data.length);
      data.copy(this.#prefix, this.#prefixRead, 0, take);
      this.#prefixRead += take;
      at = take;
      if (this.#prefixRead < PREFIX_BYTES) return [];
      const flag = this.#prefix[0]!;
      this.#length = this.#prefix.readUInt32BE(1);
      if (flag !== 0) return this.#mark({ kind: 'compressed', flag });
      if (this.#limit !== -1 && this.#length > this.#limit) return this.#mark({ kind: 'oversized', bytes: this.#length, limit: this.#limit });
      this.#remaining = this.#length;
      this.#parts = [this.#prefix];
    }
    const take = Math.min(this.#remaining, data.length - at);
    if (take > 0) this.#parts.push(data.subarray(at, at + take));
    this.#remaining -= take;
    at += take;
    if (this.#remaining > 0) return [];
    this.#done = true;
    this.#trailing = data.length - at;
    const message = Buffer.concat(this.#parts, PREFIX_BYTES + this.#length);
    this.#parts = [];
    return [message];
  }

  /** At the client's half-close: what was wrong with the stream, if the message was not all of it. */
  endProblem(): FramingProblem | undefined {
    if (this.#marked) return undefined;
    if (!this.#done) {
      if (this.#prefixRead === 0) return { kind: 'missing' };
      const declared = this.#prefixRead < PREFIX_BYTES ? undefined : this.#length;
      const received = this.#prefixRead + (declared === undefined ? 0 : declared - this.#remaining);
      return { kind: 'truncated', received, declared: declared === undefined ? undefined : PREFIX_BYTES + declared };
    }
    return this.#trailing > 0 ? { kind: 'extra', bytes: this.#trailing } : undefined;
  }

  #mark(problem: FramingProblem): Buffer[] {
    this.#done = true;
    this.#marked = true;
    this.#parts = [];
    return [marker(problem, true)];
  }
}
