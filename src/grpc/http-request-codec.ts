/**
 * A faster decoder for `AttributeContext.HttpRequest`, the part of every CheckRequest that holds
 * the ~20 request headers. protobufjs' generated decoder builds a message object with a `{}`
 * headers map (every new key a hidden-class transition) and `toObject` then copies it again; it
 * was the largest single cost of a cached Check (~11 % self time at saturation). This decoder
 * reads the fields straight into their proto3-JSON form (int64 as a decimal string, bytes as
 * base64) with a dictionary-mode headers object, and the type's `toObject` passes it through.
 * The golden input documents and the decode-equivalence test pin it to protobufjs' own output.
 */
import { isAscii } from 'node:buffer';
import protobuf from 'protobufjs';

type Converted = Record<string, unknown>;

export function installHttpRequestCodec(root: protobuf.Root, toObjectOptions: protobuf.IConversionOptions): void {
  const type = root.lookupType('envoy.service.auth.v3.AttributeContext.HttpRequest');
  const headerMap = root.lookupType('envoy.config.core.v3.HeaderMap');
  type.setup();
  headerMap.setup();
  const Reader = protobuf.Reader;

  type.decode = function decodeHttpRequest(input: protobuf.Reader | Uint8Array, length?: number): protobuf.Message {
    const r = input instanceof Reader ? input : Reader.create(input);
    const end = length === undefined ? r.len : r.pos + length;
    if (end > r.len) throw new RangeError('index out of range');
    const out: Converted = {};
    const string = stringReader(r, end);
    while (r.pos < end) {
      const tag = r.uint32();
      switch (tag >>> 3) {
        case 1: out.id = string(); break;
        case 2: out.method = string(); break;
        case 3: {
          const headers = (out.headers ??= Object.create(null)) as Record<string, string>;
          const entryEnd = r.uint32() + r.pos;
          if (entryEnd > end) throw new RangeError('index out of range');
          let key = '';
          let value = '';
          while (r.pos < entryEnd) {
            const entryTag = r.uint32();
            if (entryTag >>> 3 === 1) key = string();
            else if (entryTag >>> 3 === 2) value = string();
            else r.skipType(entryTag & 7);
          }
          if (r.pos !== entryEnd) throw new RangeError('index out of range');
          headers[key] = value;
          break;
        }
        case 4: out.path = string(); break;
        case 5: out.host = string(); break;
        case 6: out.scheme = string(); break;
        case 7: out.query = string(); break;
        case 8: out.fragment = string(); break;
        case 9: {
          const size = r.int64() as unknown as number | { toString(): string };
          out.size = typeof size === 'number' ? String(size) : size.toString();
          break;
        }
        case 10: out.protocol = string(); break;
        case 11: out.body = string(); break;
        case 12: out.rawBody = Buffer.from(r.bytes()).toString('base64'); break;
        case 13: out.headerMap = headerMap.toObject(headerMap.decode(r, r.uint32()), toObjectOptions); break;
        default: r.skipType(tag & 7); break;
      }
    }
    if (r.pos !== end) throw new RangeError('index out of range');
    return out as unknown as protobuf.Message;
  };
  // Already in converted form: the parent's toObject gets it back as is.
  type.toObject = (message: protobuf.Message) => message as unknown as Converted;
}

/**
 * `r.string()` for the fields of one HttpRequest. When the message's bytes are all ASCII (headers
 * nearly always are), they are turned into one string once and each field is a slice of it, instead
 * of one UTF-8 decoding call per header name and value; for ASCII, Latin-1 and UTF-8 decode alike.
 * Otherwise, and for a string that runs past the message, protobufjs' own reading.
 */
function stringReader(r: protobuf.Reader, end: number): () => string {
  const buf = r.buf;
  const start = r.pos;
  if (!Buffer.isBuffer(buf) || !isAscii(buf.subarray(start, end))) return () => r.string();
  const text = buf.toString('latin1', start, end);
  return () => {
    const length = r.uint32();
    const from = r.pos;
    // Past the message: as protobufjs reads it (to the end of the buffer at most).
    if (from + length > end) return buf.toString('utf8', from, (r.pos = Math.min(from + length, r.len)));
    r.pos = from + length;
    return text.slice(from - start, from - start + length);
  };
}
