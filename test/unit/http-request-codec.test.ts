import { describe, expect, it } from 'vitest';
import { TO_OBJECT_OPTIONS, authzProtos, loadRoot } from '../../src/grpc/protos.js';
import { checkRequestJson, encodeRequest } from '../support/requests.js';

/** protobufjs' own generated decoder, for comparison. */
const reference = loadRoot({ fastHttpRequest: false }).lookupType('envoy.service.auth.v3.CheckRequest');
const referenceDecode = (bytes: Uint8Array) => JSON.parse(JSON.stringify(reference.toObject(reference.decode(bytes), TO_OBJECT_OPTIONS)));
const fastDecode = (bytes: Uint8Array) => JSON.parse(JSON.stringify(authzProtos().decodeCheckRequest(bytes)));

describe('the fast HttpRequest decoder', () => {
  it.each([
    ['a plain GET', checkRequestJson({ source: 'spiffe://td/a', headers: { 'x-a': '1', __proto__: 'p', constructor: 'c' } as never })],
    ['every field', { attributes: { request: { http: {
      id: '7', method: 'POST', path: '/p?q=1', host: 'h', scheme: 'https', query: 'q=1', fragment: 'f', size: '9007199254740993', protocol: 'HTTP/2',
      body: '{"é":1}', rawBody: Buffer.from([0, 1, 2, 250]).toString('base64'),
      headers: { ':path': '/p', 'x-empty': '', 'x-unicode': 'héllo ✓' },
      headerMap: { headers: [{ key: 'x-raw', rawValue: Buffer.from('v').toString('base64') }, { key: 'x-value', value: 'w' }] },
    } } } }],
    ['no http at all', { attributes: { source: { principal: 'spiffe://td/a' } } }],
    ['an empty http', { attributes: { request: { http: {} } } }],
  ])('decodes %s exactly as protobufjs does', (_name, request) => {
    const bytes = encodeRequest(request);
    expect(fastDecode(bytes)).toEqual(referenceDecode(bytes));
  });

  it('skips unknown fields, as protobufjs does', () => {
    const field = (number: number, bytes: Buffer) => Buffer.concat([Buffer.from([(number << 3) | 2]), Buffer.from([bytes.length]), bytes]);
    const unknownVarint = Buffer.from([0x98, 0x06, 0x05]); // field 99, varint 5
    const unknownBytes = Buffer.from([0xa2, 0x06, 0x02, 0x68, 0x69]); // field 100, bytes "hi"
    const http = Buffer.concat([field(2, Buffer.from('GET')), unknownVarint, field(4, Buffer.from('/x')), unknownBytes]);
    const bytes = field(1, field(4, field(2, http))); // CheckRequest.attributes.request.http
    expect(fastDecode(bytes)).toEqual(referenceDecode(bytes));
    expect(fastDecode(bytes).attributes.request.http).toEqual({ method: 'GET', path: '/x' });
  });

  it('refuses truncated input, as protobufjs does', () => {
    const bytes = encodeRequest(checkRequestJson({ source: 'spiffe://td/a' }));
    expect(() => authzProtos().decodeCheckRequest(bytes.subarray(0, bytes.length - 3))).toThrow();
    expect(() => reference.decode(bytes.subarray(0, bytes.length - 3))).toThrow();
  });

  it('decodes non-ASCII and invalid UTF-8 header bytes exactly as protobufjs does', () => {
    const field = (number: number, bytes: Buffer) => Buffer.concat([Buffer.from([(number << 3) | 2]), Buffer.from([bytes.length]), bytes]);
    const entry = (key: Buffer, value: Buffer) => field(3, Buffer.concat([field(1, key), field(2, value)]));
    for (const value of [Buffer.from('plain'), Buffer.from('héllo'), Buffer.from([0x61, 0xff, 0x62]), Buffer.from([0xc3]), Buffer.from([0x7f, 0x00, 0x80])]) {
      const http = Buffer.concat([field(2, Buffer.from('GET')), entry(Buffer.from('x-a'), value), entry(Buffer.from('x-b'), Buffer.from('ascii')), field(4, Buffer.from('/x'))]);
      const bytes = field(1, field(4, field(2, http)));
      expect(fastDecode(bytes)).toEqual(referenceDecode(bytes));
    }
  });

  // Stricter than protobufjs in one way: a header map entry whose key or value runs past the
  // entry is refused (protobufjs reads on into the next field). Refusing is a deny, never an allow.
  it('agrees with protobufjs on corrupted requests: the same fields, or it refuses', () => {
    const requests = [
      checkRequestJson({ source: 'spiffe://td/a', headers: { 'x-a': '1', 'x-long': 'v'.repeat(300), 'x-u': 'é✓' } }),
      checkRequestJson({ source: 'spiffe://td/a', method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":[1,2,{"b":"c"}]}' }),
    ].map((request) => encodeRequest(request));
    // Seeded, so a failure reproduces.
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
    const outcome = (decode: () => unknown) => {
      try {
        return { value: decode() };
      } catch {
        return { refused: true };
      }
    };
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const bytes = Buffer.from(requests[i % requests.length]!);
      for (let flips = 1 + Math.floor(random() * 3); flips > 0; flips--) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      const cut = random() < 0.2 ? bytes.subarray(0, Math.floor(random() * bytes.length)) : bytes;
      const fast = outcome(() => fastDecode(cut));
      const expected = outcome(() => referenceDecode(cut));
      if ('refused' in fast) refused++;
      else expect(fast).toEqual(expected);
      if ('refused' in expected) expect(fast).toEqual(expected);
    }
    expect(refused).toBeGreaterThan(100);
    expect(refused).toBeLessThan(3000);
  });
});
