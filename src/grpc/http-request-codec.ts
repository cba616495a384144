/**
 * A faster decoder for `AttributeContext.HttpRequest`, the part of every CheckRequest that holds
 * the ~20 request headers. protobufjs' generated decoder builds a message object with a `{}`
 * headers map (every new key a hidden-class transition) and `toObject` then copies it again; it
 * was the largest single cost of a cached Check (~11 % self time at saturation). This decoder
 * reads the fields straight into their proto3-JSON form (int64 as a decimal string, bytes as
 * base64) with a dictionary-mode headers object, and the type's `toObject` passes it through.
 * The golden input documents and the decode-equivalence test pin it to protobufjs' own output.
 */
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
    while (r.pos < end) {
      const tag = r.uint32();
      switch (tag >>> 3) {
        case 1: out.id = r.string(); break;
        case 2: out.method = r.string(); break;
        case 3: {
          const headers = (out.headers ??= Object.create(null)) as Record<string, string>;
          const entryEnd = r.uint32() + r.pos;
          if (entryEnd > end) throw new RangeError('index out of range');
          let key = '';
          let value = '';
          while (r.pos < entryEnd) {
            const entryTag = r.uint32();
            if (entryTag >>> 3 === 1) key = r.string();
            else if (entryTag >>> 3 === 2) value = r.string();
            else r.skipType(entryTag & 7);
          }
          if (r.pos !== entryEnd) throw new RangeError('index out of range');
          headers[key] = value;
          break;
        }
        case 4: out.path = r.string(); break;
        case 5: out.host = r.string(); break;
        case 6: out.scheme = r.string(); break;
        case 7: out.query = r.string(); break;
        case 8: out.fragment = r.string(); break;
        case 9: {
          const size = r.int64() as unknown as number | { toString(): string };
          out.size = typeof size === 'number' ? String(size) : size.toString();
          break;
        }
        case 10: out.protocol = r.string(); break;
        case 11: out.body = r.string(); break;
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
