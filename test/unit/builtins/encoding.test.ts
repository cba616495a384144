/**
 * The encoding host builtins called directly: hex, unpadded base64url, Go's URL query rules and
 * url.Parse as uri.parse shows it. (test/integration/builtins-encoding.test.ts compares with
 * `opa eval`.)
 */
import { describe, expect, it } from 'vitest';
import { encodingBuiltins } from '../../../src/policy/builtins/encoding.js';
import { goBytesToString } from '../../../src/policy/builtins/go-bytes.js';
import type { BuiltinContext, RegoValue } from '../../../src/policy/builtins/types.js';

const ctx = {} as BuiltinContext;
const call = (name: string, ...args: RegoValue[]) => encodingBuiltins[name]!.fn(ctx, ...args);
const plain = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;

describe('hex and base64url', () => {
  it('encodes UTF-8 bytes and decodes hex, refusing odd lengths and non-hex', () => {
    expect(call('hex.encode', 'é')).toBe('c3a9');
    expect(call('hex.decode', '68C3A9')).toBe('hé');
    expect(() => call('hex.decode', '616')).toThrow(/odd length/);
    expect(() => call('hex.decode', 'zz')).toThrow(/invalid byte/);
  });

  it('shows each byte of invalid UTF-8 as one U+FFFD, like Go’s JSON output', () => {
    expect(call('hex.decode', 'e282' + '61')).toBe('\ufffd\ufffda');
    expect(call('hex.decode', 'eda080')).toBe('\ufffd\ufffd\ufffd');
    expect(goBytesToString(Buffer.from([0xf0, 0x9d, 0x84, 0x9e]))).toBe('𝄞');
  });

  it('base64url.encode_no_pad drops the padding', () => {
    expect(call('base64url.encode_no_pad', 'a')).toBe('YQ');
    expect(call('base64url.encode_no_pad', '\u00ff\u00fe')).toBe('w7_Dvg');
  });
});

describe('urlquery', () => {
  it('escapes like url.QueryEscape: + for space, everything reserved as %XX', () => {
    expect(call('urlquery.encode', 'a b&c=d/é~')).toBe('a+b%26c%3Dd%2F%C3%A9~');
    expect(call('urlquery.decode', 'a+b%26%C3%A9')).toBe('a b&é');
    expect(() => call('urlquery.decode', '%zz')).toThrow(/invalid URL escape "%zz"/);
  });

  it('encode_object sorts keys and accepts strings, arrays and sets of strings', () => {
    expect(call('urlquery.encode_object', { b: 'x y', a: ['2', '1'], c: new Set(['z', 'y']) as RegoValue })).toBe('a=2&a=1&b=x+y&c=y&c=z');
    expect(() => call('urlquery.encode_object', { a: 1 })).toThrow(/values must be string/);
  });

  it('decode_object follows url.ParseQuery: a ";" or a bad escape anywhere makes it an error', () => {
    expect(plain(call('urlquery.decode_object', 'a=1&a=2&b=%20'))).toEqual({ a: ['1', '2'], b: [' '] });
    expect(() => call('urlquery.decode_object', 'a=1;b=2')).toThrow(/semicolon/);
    expect(() => call('urlquery.decode_object', 'a=%zz&b=1')).toThrow(/invalid URL escape/);
  });
});

describe('uri.parse and uri.is_valid', () => {
  it('returns the non-empty components of url.Parse', () => {
    expect(plain(call('uri.parse', 'https://example.com:8080/a%2Fb?q=1#top'))).toEqual({
      scheme: 'https', hostname: 'example.com', port: '8080', path: '/a/b', raw_path: '/a%2Fb', raw_query: 'q=1', fragment: 'top',
    });
    expect(plain(call('uri.parse', 'http://[fe80::1%25en0]:80/'))).toEqual({ scheme: 'http', hostname: 'fe80::1%en0', port: '80', path: '/', raw_path: '/' });
    expect(plain(call('uri.parse', 'mailto:user@example.com'))).toEqual({ scheme: 'mailto' });
    expect(plain(call('uri.parse', ''))).toEqual({});
  });

  it('is_valid is url.Parse succeeding, and false for the empty string', () => {
    expect(call('uri.is_valid', 'https://example.com/path?q=1')).toBe(true);
    expect(call('uri.is_valid', '')).toBe(false);
    expect(call('uri.is_valid', 'http://[invalid')).toBe(false);
    expect(call('uri.is_valid', 'http://[1.2.3.4]/')).toBe(false);
    expect(call('uri.is_valid', ':x')).toBe(false);
    expect(call('uri.is_valid', 'a:b/c')).toBe(true);
    expect(call('uri.is_valid', 'http://h\u0001/')).toBe(false);
    expect(call('uri.is_valid', 1)).toBe(false);
  });
});
