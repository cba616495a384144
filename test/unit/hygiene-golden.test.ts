/**
 * Strict request hygiene (the default) against the golden input documents, which are the input
 * as it was before hygiene (test/unit/input-golden.test.ts builds them in compatible mode,
 * unchanged): strict gives the same document plus `canonical_host`/`canonical_port`, or refuses
 * the request with the rule listed here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HygieneRefusal, STRICT } from '../../src/authz/hygiene/index.js';
import { buildInput } from '../../src/authz/input.js';
import { authzProtos } from '../../src/grpc/protos.js';
import { encodeRequest } from '../support/requests.js';
import { ROOT } from '../support/tools.js';

const cases = path.join(ROOT, 'test/cases');
const names = readdirSync(path.join(cases, 'requests')).filter((f) => f.endsWith('.json')).sort();

/** Golden requests strict mode refuses, and why (a legitimate change of the stricter default). */
const REFUSED: Record<string, string> = {
  // /files/a%2Fb/...: an encoded slash inside a segment, which a decoding backend splits.
  'encoded-slash-dns-principal.json': 'path_separator_in_segment',
};

describe('strict hygiene on the golden requests', () => {
  it.each(names)('%s', (name) => {
    const request = JSON.parse(readFileSync(path.join(cases, 'requests', name), 'utf8'));
    const golden = JSON.parse(readFileSync(path.join(cases, 'golden', name), 'utf8'));
    let strict: unknown;
    try {
      strict = JSON.parse(JSON.stringify(buildInput(authzProtos().decodeCheckRequest(encodeRequest(request)), {
        maxBodyBytes: 1024 * 1024,
        hygiene: STRICT,
        xfccTrustedSources: new Set(['spiffe://mesh.local/ns/edge/sa/gateway']),
      })));
    } catch (error) {
      expect(error).toBeInstanceOf(HygieneRefusal);
      expect((error as HygieneRefusal).rule).toBe(REFUSED[name]);
      return;
    }
    expect(REFUSED[name]).toBeUndefined();
    const http = golden.attributes.request.http;
    const added = http.host ? { canonical_host: http.host, canonical_port: 443 } : {};
    expect(strict).toEqual({ ...golden, ...added });
  });
});
