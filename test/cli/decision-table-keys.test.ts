/**
 * `gatehouse test` refuses a table with a key it does not know, at any level, naming the file,
 * the line and the key it probably meant, before any bundle is loaded (so no bundle is needed
 * here: the table is checked first).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../support/cli.js';
import { tempDir } from '../support/policy.js';

function table(yaml: string): string {
  const file = path.join(tempDir(), 'table.yaml');
  writeFileSync(file, yaml);
  return file;
}

describe('gatehouse test: unknown keys in decision tables', () => {
  it.each([
    [
      'a case key (principal: ran with no source at all)',
      'cases:\n  - name: checkout\n    principal: spiffe://mesh.local/ns/shop/sa/checkout\n    path: /\n    expect: { allowed: true }\n',
      ':3: case 1 ("checkout"): unknown key "principal"; did you mean "source"?',
    ],
    ['a misspelt case key', 'cases:\n  - name: x\n    path: /\n    heders: { a: b }\n    expect: { allowed: true }\n', ':4: case 1 ("x"): unknown key "heders"; did you mean "headers"?'],
    ['an expect key', 'cases:\n  - name: x\n    path: /\n    expect:\n      allowed: true\n      http_stauts: 200\n', ':6: case 1 ("x"), expect: unknown key "http_stauts"; did you mean "http_status"?'],
    ['a table key', 'case:\n  - name: x\n', ':1: the table: unknown key "case"; did you mean "cases"?'],
    [
      'a field inside a full CheckRequest',
      'cases:\n  - name: x\n    request:\n      attributes:\n        request:\n          http: { path: /,\n            methd: GET }\n    expect: { allowed: false }\n',
      ':7: case 1 ("x"): request is not a CheckRequest in proto JSON form: .envoy.service.auth.v3.AttributeContext.HttpRequest: unknown field "methd"; did you mean "method"?',
    ],
    [
      'a key far from every known one (listed instead)',
      'cases:\n  - name: x\n    path: /\n    frobnicate: 1\n    expect: { allowed: true }\n',
      ':4: case 1 ("x"): unknown key "frobnicate" (known: name, request, source, destination, method, path, headers, body, expect)',
    ],
  ])('%s is an error with the line and what was probably meant', (_what, yaml, message) => {
    const file = table(yaml);
    const result = run('test', '--bundle', 'no-bundle-needed.tar.gz', file);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`gatehouse: ${file}${message}`);
  });

  it.each([
    ['request and the shorthand together', 'cases:\n  - name: x\n    request: { attributes: {} }\n    source: spiffe://a/b\n    expect: { allowed: true }\n', 'has both "request" and source'],
    ['a header value that is not a string', 'cases:\n  - name: x\n    path: /\n    headers: { x-count: 1 }\n    expect: { allowed: true }\n', 'header x-count must be a string (quote it), got 1'],
    ['allowed that is not a boolean', 'cases:\n  - name: x\n    path: /\n    expect: { allowed: "yes" }\n', 'expect: allowed must be true or false, got "yes"'],
    ['a case that is not a mapping', 'cases:\n  - just a string\n', 'case 1 must be a mapping'],
  ])('%s is an error', (_what, yaml, message) => {
    const result = run('test', '--bundle', 'no-bundle-needed.tar.gz', table(yaml));
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
  });
});
