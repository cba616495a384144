/**
 * Host builtins: the encoding family (hex, base64url without padding, URL queries, URIs), as OPA
 * v1.19.1's topdown/encoding.go and uri.go, with Go's net/url rules (go-url.ts).
 */
import { objectArg, stringArg } from './args.js';
import { fromByteString, goBytesToString, toByteString } from './go-bytes.js';
import { encodeValues, parseQuery, parseUrl, queryEscape, queryUnescape, splitHostPort, UrlError } from './go-url.js';
import { compareStrings } from './value-order.js';
import { BuiltinError, type BuiltinFamily, type RegoObject } from './types.js';

/** Run a Go port; its UrlError becomes the builtin's error. */
function goCall<T>(builtin: string, call: () => T): T {
  try {
    return call();
  } catch (error) {
    if (error instanceof UrlError) throw new BuiltinError(builtin, error.message);
    throw error;
  }
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

function encodeObject(value: RegoObject): string {
  const invalid = () => new BuiltinError('urlquery.encode_object', 'operand 1 values must be string, array[string], or set[string]');
  const values = new Map<string, string[]>();
  for (const key of Object.keys(value)) {
    const item = value[key]!;
    if (typeof item === 'string') {
      values.set(toByteString(key), [toByteString(item)]);
      continue;
    }
    if (!Array.isArray(item) && !(item instanceof Set)) throw invalid();
    // A set reaches Go as a JSON array in OPA's (sorted) set order.
    const items = Array.isArray(item) ? item : [...item].sort((a, b) => (typeof a === 'string' && typeof b === 'string' ? compareStrings(a, b) : 0));
    const strings = items.map((element) => {
      if (typeof element !== 'string') throw invalid();
      return toByteString(element);
    });
    // Go's Values.Add on an empty list: the key is set with no values, and encodes to nothing.
    values.set(toByteString(key), strings);
  }
  return fromByteString(encodeValues(values));
}

export const encodingBuiltins: BuiltinFamily = {
  'hex.encode': {
    fn: (_ctx, x) => Buffer.from(stringArg('hex.encode', 1, x), 'utf8').toString('hex'),
  },
  'hex.decode': {
    fn: (_ctx, x) => {
      const s = stringArg('hex.decode', 1, x);
      if (!HEX.test(s)) {
        const bad = /[^0-9a-fA-F]/u.exec(s)?.[0];
        throw new BuiltinError('hex.decode', bad ? `encoding/hex: invalid byte: ${JSON.stringify(bad)}` : 'encoding/hex: odd length hex string');
      }
      return goBytesToString(Buffer.from(s, 'hex'));
    },
    note: 'Bytes that are not valid UTF-8 become U+FFFD, one per byte (what `opa eval` prints); OPA itself keeps the raw bytes inside the evaluation.',
  },
  'base64url.encode_no_pad': {
    fn: (_ctx, x) => Buffer.from(stringArg('base64url.encode_no_pad', 1, x), 'utf8').toString('base64url'),
  },
  'urlquery.encode': {
    fn: (_ctx, x) => fromByteString(queryEscape(toByteString(stringArg('urlquery.encode', 1, x)))),
  },
  'urlquery.decode': {
    fn: (_ctx, x) => {
      const s = toByteString(stringArg('urlquery.decode', 1, x));
      return fromByteString(goCall('urlquery.decode', () => queryUnescape(s)));
    },
    note: 'Decoded bytes that are not valid UTF-8 become U+FFFD, one per byte.',
  },
  'urlquery.encode_object': {
    fn: (_ctx, x) => {
      if (x instanceof Map) throw new BuiltinError('urlquery.encode_object', 'operand 1 must be object with string keys');
      return encodeObject(objectArg('urlquery.encode_object', 1, x));
    },
  },
  'urlquery.decode_object': {
    fn: (_ctx, x) => {
      const s = toByteString(stringArg('urlquery.decode_object', 1, x));
      const values = goCall('urlquery.decode_object', () => parseQuery(s));
      const out = Object.create(null) as RegoObject;
      for (const [key, list] of values) out[fromByteString(key)] = list.map(fromByteString);
      return out;
    },
  },
  'uri.parse': {
    fn: (_ctx, x) => {
      const s = toByteString(stringArg('uri.parse', 1, x));
      const url = goCall('uri.parse', () => parseUrl(s));
      const [hostname, port] = splitHostPort(url.host);
      const out = Object.create(null) as RegoObject;
      const put = (key: string, value: string) => {
        if (value !== '') out[key] = fromByteString(value);
      };
      put('scheme', url.scheme);
      put('hostname', hostname);
      put('port', port);
      if (url.path !== '') {
        put('path', url.path);
        put('raw_path', url.rawPath || url.path);
      }
      put('raw_query', url.rawQuery);
      put('fragment', url.fragment);
      return out;
    },
    note: 'Go\'s url.Parse (not WHATWG URL): percent-decoded bytes that are not UTF-8 become U+FFFD, one per byte.',
  },
  'uri.is_valid': {
    fn: (_ctx, x) => {
      if (typeof x !== 'string' || x === '') return false;
      try {
        parseUrl(toByteString(x));
        return true;
      } catch (error) {
        if (error instanceof UrlError) return false;
        throw error;
      }
    },
  },
};
