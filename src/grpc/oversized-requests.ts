/**
 * A CheckRequest longer than gatehouse reads still gets a CheckResponse (a 413 deny), never an RPC
 * error: Envoy turns an RPC error into an allow under `failure_mode_allow: true`.
 *
 * grpc-js enforces `grpc.max_receive_message_length` inside its call object
 * (`BaseServerInterceptingCall`, node_modules/@grpc/grpc-js/build/src/server-interceptors.js): its
 * `StreamDecoder` reads each message's 5-byte gRPC prefix (compressed flag, 32-bit length) and,
 * when the length is over the limit, throws; the call then answers RESOURCE_EXHAUSTED itself, past
 * every interceptor and handler. A message that is compressed and inflates past the limit is
 * refused the same way by `decompressMessage`.
 *
 * So a server interceptor, which grpc-js hands the call object right after creating it and before
 * any DATA frame is read, swaps in a decoder that behaves like grpc-js' for messages within the
 * limit and, for a longer one, discards its bytes as they arrive (nothing is kept: memory per call
 * stays under the limit whatever the length) and then delivers a marker in place of the message.
 * The Check handler recognises the marker (`oversizedRequest`) and answers with a deny. The marker
 * is a buffer only this module creates, recognised by identity, so no client can forge one.
 * test/integration/oversized-request.test.ts pins this to the grpc-js version in use: if a new
 * version renames these internals, that test fails instead of the limit silently failing open.
 */
import type { ServerInterceptingCallInterface, ServerInterceptor } from '@grpc/grpc-js';
import { ServerInterceptingCall, status as GrpcStatus } from '@grpc/grpc-js';

export interface OversizedRequest {
  /** The length the message declared, or undefined when it inflated past the limit. */
  bytes: number | undefined;
  limit: number;
}

const markers = new WeakMap<ArrayBufferLike, OversizedRequest>();

/** The marker's facts when `request` stands for a message over the limit; undefined otherwise. */
export function oversizedRequest(request: Uint8Array): OversizedRequest | undefined {
  return request.byteLength === 0 ? markers.get(request.buffer) : undefined;
}

/** A fresh zero-length view on a buffer of its own, registered as a marker (framed or not). */
function marker(facts: OversizedRequest, framed: boolean): Buffer {
  // Buffer.alloc never uses the shared pool, so the ArrayBuffer belongs to this marker alone.
  const owner = Buffer.alloc(framed ? 5 : 1);
  markers.set(owner.buffer, facts);
  // Framed: flag 0, length 0; grpc-js passes on `subarray(5)`, a zero-length view on the same memory.
  return framed ? owner : owner.subarray(0, 0);
}

/** The parts of grpc-js' call object this module replaces (see the file comment). */
interface GrpcJsBaseCall {
  decoder: { write(data: Buffer): Buffer[] };
  decompressMessage(message: Buffer, encoding: string): Buffer | Promise<Buffer>;
}

function isBaseCall(call: unknown): call is GrpcJsBaseCall {
  const candidate = call as Partial<GrpcJsBaseCall> | undefined;
  return typeof candidate?.decoder?.write === 'function' && typeof candidate.decompressMessage === 'function';
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
        base.decoder = new DiscardingDecoder(limit);
        const decompress = base.decompressMessage.bind(base);
        base.decompressMessage = async (message, encoding) => {
          try {
            return await decompress(message, encoding);
          } catch (error) {
            if ((error as { code?: unknown })?.code === GrpcStatus.RESOURCE_EXHAUSTED) return marker({ bytes: undefined, limit }, false);
            throw error;
          }
        };
      } else if (!warned) {
        warned = true;
        onUnsupported();
      }
    }
    return new ServerInterceptingCall(call);
  };
}

const PREFIX_BYTES = 5;

/**
 * gRPC length-prefixed message framing (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md),
 * producing what grpc-js' StreamDecoder produces (each message with its 5-byte prefix), except
 * that a message over `limit` is skipped and replaced by a marker.
 */
export class DiscardingDecoder {
  readonly #limit: number;
  #prefix = Buffer.alloc(PREFIX_BYTES);
  #prefixRead = 0;
  #parts: Buffer[] = [];
  /** Bytes of the current message still to come; -1 while reading a prefix. */
  #remaining = -1;
  #length = 0;
  #discarding = false;

  constructor(limit: number) {
    this.#limit = limit;
  }

  write(data: Buffer): Buffer[] {
    const messages: Buffer[] = [];
    let at = 0;
    while (at < data.length) {
      if (this.#remaining === -1) {
        const take = Math.min(PREFIX_BYTES - this.#prefixRead, data.length - at);
        data.copy(this.#prefix, this.#prefixRead, at, at + take);
        this.#prefixRead += take;
        at += take;
        if (this.#prefixRead < PREFIX_BYTES) break;
        this.#length = this.#prefix.readUInt32BE(1);
        this.#remaining = this.#length;
        this.#discarding = this.#limit !== -1 && this.#length > this.#limit;
        this.#parts = this.#discarding ? [] : [this.#prefix];
      }
      const take = Math.min(this.#remaining, data.length - at);
      if (!this.#discarding && take > 0) this.#parts.push(data.subarray(at, at + take));
      this.#remaining -= take;
      at += take;
      if (this.#remaining === 0) {
        messages.push(this.#discarding ? marker({ bytes: this.#length, limit: this.#limit }, true) : Buffer.concat(this.#parts, PREFIX_BYTES + this.#length));
        this.#prefix = Buffer.alloc(PREFIX_BYTES);
        this.#prefixRead = 0;
        this.#parts = [];
        this.#remaining = -1;
      }
    }
    return messages;
  }
}
