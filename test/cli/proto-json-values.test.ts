/**
 * A CheckRequest written by hand (`gatehouse check --request`, `gatehouse call --request`, a
 * decision table's `request:`) is read by the proto3 JSON rules: a value of the wrong JSON type
 * is an error naming the field, never silently turned into another request (before, headers
 * written as a list became {"0": "[object Object]"}, a size of "abc" became 0 and a port of
 * 99999999999 wrapped to 1215752191, and the case ran with that request).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromProtoJson } from '../../src/authz/proto-json.js';
import { authzProtos } from '../../src/grpc/protos.js';
import { run } from '../support/cli.js';
import { tempDir } from '../support/policy.js';
import { ROOT } from '../support/tools.js';

const http = (fields: Record<string, unknown>) => ({ attributes: { request: { http: { method: 'GET', path: '/', ...fields } } } });
const socket = (fields: Record<string, unknown>) => ({ attributes: { source: { address: { socketAddress: { address: '10.0.0.1', ...fields } } } } });
/** The request as the server would decode it, after the proto JSON is read and encoded. */
function roundTrip(json: unknown): Record<string, any> {
  const protos = authzProtos();
  const bytes = protos.encodeCheckRequest(fromProtoJson(protos.CheckRequest, json));
  return protos.CheckRequest.toObject(protos.CheckRequest.decode(bytes), { longs: String, enums: String, bytes: String }) as Record<string, any>;
}
const read = (json: unknown) => () => fromProtoJson(authzProtos().CheckRequest, json);

describe('proto JSON values of the wrong type are errors naming the field', () => {
  it.each([
    ['a map written as a list (Envoy HeaderMap style)', http({ headers: [{ key: 'a', value: 'b' }] }), 'HttpRequest.headers: expected a JSON object (name: value), got an array'],
    ['a map value that is not a string', http({ headers: { a: { b: 1 } } }), 'HttpRequest.headers["a"]: expected a string, got {"b":1}'],
    ['a number for a string', http({ headers: { 'x-a': 1 } }), 'HttpRequest.headers["x-a"]: expected a string, got 1'],
    ['a string field given a list', http({ method: ['GET'] }), 'HttpRequest.method: expected a string, got ["GET"]'],
    ['an int64 that is not a number', http({ size: 'abc' }), 'HttpRequest.size: expected an integer (int64), got "abc"'],
    ['a fraction for an integer', http({ size: 1.5 }), 'HttpRequest.size: expected an integer (int64), got 1.5'],
    ['a uint32 out of range', socket({ portValue: 99999999999 }), 'SocketAddress.portValue: expected an integer (uint32), got 99999999999'],
    ['a negative uint32', socket({ portValue: -1 }), 'SocketAddress.portValue: expected an integer (uint32), got -1'],
    ['a bool written as a string', socket({ ipv4Compat: 'yes' }), 'SocketAddress.ipv4Compat: expected true or false, got "yes"'],
    ['an unknown enum name', socket({ protocol: 'TPC' }), 'SocketAddress.protocol: expected one of TCP, UDP, got "TPC"'],
    ['bytes that are not base64', http({ rawBody: '!!not base64' }), 'HttpRequest.rawBody: expected base64, got "!!not base64"'],
    ['a message given a string', { attributes: { request: 'GET /' } }, 'AttributeContext.request: expected a JSON object'],
  ])('%s', (_name, json, message) => {
    expect(read(json)).toThrow(message);
  });

  it('values proto3 JSON allows still read as before', () => {
    const decoded = roundTrip({
      attributes: {
        source: { address: { socketAddress: { address: '10.0.0.1', portValue: '8443', protocol: 'UDP', ipv4Compat: true } } },
        destination: { address: { socketAddress: { address: '10.0.0.2', portValue: 443, protocol: 1 } } },
        request: { http: { method: 'GET', path: '/', size: '12', headers: { a: 'b' }, rawBody: '-_8' }, time: '2026-11-22T15:04:05.123Z' },
        contextExtensions: { k: 'v' },
        metadataContext: { filterMetadata: { f: { a: [1, { b: 2 }], c: null } } },
      },
    });
    expect(decoded.attributes.source.address.socketAddress).toMatchObject({ portValue: 8443, protocol: 'UDP', ipv4Compat: true });
    expect(decoded.attributes.destination.address.socketAddress).toMatchObject({ portValue: 443, protocol: 'UDP' });
    expect(decoded.attributes.request.http).toMatchObject({ size: '12', headers: { a: 'b' } });
    // URL-safe base64 (proto3 JSON accepts both alphabets) is the same bytes as standard: fb ff.
    expect(Buffer.from(decoded.attributes.request.http.rawBody, 'base64')).toEqual(Buffer.from([0xfb, 0xff]));
    // The example request (README) reads unchanged.
    expect(() => roundTrip(JSON.parse(readFileSync(path.join(ROOT, 'examples/check-request.json'), 'utf8')))).not.toThrow();
  });

  it('gatehouse test refuses such a table before loading any bundle, exit 2', () => {
    const file = path.join(tempDir(), 'table.yaml');
    writeFileSync(file, 'cases:\n  - name: x\n    request: { attributes: { request: { http: { method: GET, path: /, headers: [{ key: a, value: b }] } } } }\n    expect: { allowed: false }\n');
    const result = run('test', '--bundle', 'does-not-matter.tar.gz', file);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(':3: case 1 ("x"): request is not a CheckRequest in proto JSON form: .envoy.service.auth.v3.AttributeContext.HttpRequest.headers: expected a JSON object (name: value), got an array');
  });
});
