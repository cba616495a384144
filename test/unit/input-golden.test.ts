/**
 * The input document, pinned by golden files: each CheckRequest in test/cases/requests (Envoy's
 * proto JSON form) is encoded to protobuf bytes, decoded as from the wire, and turned into an
 * input document that must equal test/cases/golden/<name>.json. After an intended change, review
 * the diff and regenerate with UPDATE_GOLDEN=1.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMPATIBLE } from '../../src/authz/hygiene/index.js';
import { buildInput } from '../../src/authz/input.js';
import { authzProtos } from '../../src/grpc/protos.js';
import { encodeRequest } from '../support/requests.js';
import { ROOT } from '../support/tools.js';

const cases = path.join(ROOT, 'test/cases');
const names = readdirSync(path.join(cases, 'requests')).filter((f) => f.endsWith('.json')).sort();
// The golden files are the input as it was before request hygiene: built in compatible mode they
// must not change (test/unit/hygiene-golden.test.ts compares strict mode with them).
const inputOf = (request: unknown, maxBodyBytes = 1024 * 1024) =>
  buildInput(authzProtos().decodeCheckRequest(encodeRequest(request)), { maxBodyBytes, hygiene: COMPATIBLE, xfccTrustedSources: new Set(['spiffe://mesh.local/ns/edge/sa/gateway']) });

describe('input document golden files', () => {
  it('has a catalogue of requests', () => {
    expect(names.length).toBeGreaterThanOrEqual(10);
  });

  it.each(names)('%s', (name) => {
    const request = JSON.parse(readFileSync(path.join(cases, 'requests', name), 'utf8'));
    const actual = JSON.parse(JSON.stringify(inputOf(request)));
    const goldenPath = path.join(cases, 'golden', name);
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(goldenPath)) {
      if (process.env.CI === 'true') throw new Error(`missing golden file ${goldenPath}; run UPDATE_GOLDEN=1 locally and review it`);
      writeFileSync(goldenPath, `${JSON.stringify(actual, null, 2)}\n`);
    }
    expect(actual).toEqual(JSON.parse(readFileSync(goldenPath, 'utf8')));
  });
});

describe('malformed requests', () => {
  const bad = JSON.parse(readFileSync(path.join(cases, 'bad-requests.json'), 'utf8')) as { name: string; request: unknown; code: string; message: string }[];
  it.each(bad.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    let thrown: unknown;
    try {
      inputOf(c.request, 64);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: c.code });
    expect((thrown as Error).message).toContain(c.message);
  });
});
