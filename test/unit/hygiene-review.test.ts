/**
 * Unit tests for the review's findings on request hygiene (the end-to-end cases, with the request
 * a backend reads instead, are in test/cases/hygiene/cases.json): Go's case folding of JSON keys,
 * numbers beyond a double, Content-Disposition read as Go's mime.ParseMediaType, content-type
 * parameters, framed +json types, empty path segments.
 */
import { describe, expect, it } from 'vitest';
import { parseBody } from '../../src/authz/body.js';
import { COMPATIBLE, isJsonMediaType, screenPath, STRICT, hygieneSettings } from '../../src/authz/hygiene/index.js';
import { duplicateJsonKey, foldKey } from '../../src/authz/hygiene/json-keys.js';
import { parseJson } from '../../src/authz/json-depth.js';
import { parseParameters } from '../../src/authz/multipart.js';

const limits = (hygiene = STRICT) => ({ maxBodyBytes: 1 << 20, hygiene });
const multipart = (headerLines: string[], value = 'admin') => `--b\r\n${headerLines.map((l) => `${l}\r\n`).join('')}\r\n${value}\r\n--b--\r\n`;
const MP = { 'content-type': 'multipart/form-data; boundary=b' };

describe('JSON keys compared as Go compares struct fields', () => {
  it.each([
    ['{"amount":50,"Amount":100000}', 'Amount'],
    ['{"role":"user","ROLE":"admin"}', 'ROLE'],
    ['{"status":"ok","\u017ftatus":"x"}', '\u017ftatus'], // ſ folds to s
    ['{"kind":"a","\u212aind":"b"}', '\u212aind'], // Kelvin sign folds to k
    ['{"\u03c3":1,"\u03c2":2}', '\u03c2'], // σ and final ς
    ['{"a":{"x":1},"o":{"Id":1,"iD":2}}', 'iD'],
  ])('%s repeats a key', (text, key) => {
    expect(duplicateJsonKey(text)?.key).toBe(key);
  });

  it.each(['{"stra\u00dfe":1,"strasse":2}', '{"id":1,"ids":2}', '{"a":{"id":1},"b":{"ID":2}}', '["id","ID"]'])('%s does not', (text) => {
    expect(duplicateJsonKey(text)).toBeUndefined();
  });

  it('folds ASCII by lower-casing and keeps multi-character mappings out', () => {
    expect(foldKey('AmOunt')).toBe('amount');
    expect(foldKey('\u00df')).toBe('\u00df');
    expect(foldKey('\u1e9e')).toBe('\u00df'); // capital sharp s folds to ß, as in Go
    expect(foldKey('\u0130')).toBe('\u0130'); // İ has no simple fold
  });
});

describe('JSON numbers beyond a double', () => {
  it.each(['{"amount":1e400}', '{"amount":-1E+309}', `{"amount":1${'0'.repeat(400)}}`, '[1,2,1e999]', '1e400'])('refuses %s', (text) => {
    expect(() => parseJson(text, 'request body', 128)).toThrow('request body holds a number too large for a double');
  });

  it('names the key', () => {
    expect(() => parseJson('{"a":{"amount":1e400}}', 'request body', 128)).toThrow('(key "amount")');
  });

  it.each(['{"a":1e-400}', '{"a":1.7e308}', '{"note":"1e400 in a string"}', `{"id":"${'9'.repeat(300)}"}`, '{"a":5e2}'])('accepts %s', (text) => {
    expect(() => parseJson(text, 'request body', 128)).not.toThrow();
  });

  it('refuses them in compatible mode too, in bodies and JSON parts', () => {
    expect(() => parseBody({ 'content-type': 'application/json' }, '{"amount":1e400}', undefined, limits(COMPATIBLE))).toThrow('too large for a double');
    const part = multipart(['Content-Disposition: form-data; name="meta"', 'Content-Type: application/json'], '{"amount":1e400}');
    expect(() => parseBody(MP, part, undefined, limits(COMPATIBLE))).toThrow('multipart part "meta" holds a number too large');
  });
});

describe('Content-Disposition, read as Go mime.ParseMediaType reads it', () => {
  it('respects quoted strings and lower-cases names', () => {
    const parsed = parseParameters('form-data; xname="; name=safe"; NAME="role"');
    expect(parsed.error).toBeUndefined();
    expect(parsed.type).toBe('form-data');
    expect(Object.fromEntries(parsed.params)).toEqual({ xname: '; name=safe', name: 'role' });
  });

  it('refuses a repeated parameter and bad syntax', () => {
    expect(parseParameters('form-data; name="safe"; name="role"').error).toContain('repeats the parameter "name"');
    expect(parseParameters('form-data; name="unterminated').error).toBeDefined();
    expect(parseParameters('form-data name="x"').error).toBeDefined();
    expect(parseParameters('form-data; name=').error).toBeDefined();
  });

  it('decodes RFC 2231 name* over name, and continuations', () => {
    expect(parseParameters("form-data; name=\"safe\"; name*=UTF-8''r%C3%B4le").params.get('name')).toBe('r\u00f4le');
    expect(parseParameters('form-data; name*0="ro"; name*1="le"').params.get('name')).toBe('role');
    expect(parseParameters("form-data; name*=latin9''x").params.has('name')).toBe(false);
  });

  it('unescapes a backslash only before a tspecial, as Go does', () => {
    expect(parseParameters('form-data; name="a\\"b\\c"').params.get('name')).toBe('a"b\\c');
  });

  it('compatible: a part with an invalid or non-form-data disposition is skipped, the first repeated header counts', () => {
    const parse = (lines: string[]) => parseBody(MP, multipart(lines), undefined, limits(COMPATIBLE)).parsedBody;
    expect(parse(['Content-Disposition: form-data; name="safe"; name="role"'])).toEqual({});
    expect(parse(['Content-Disposition: attachment; name="role"'])).toEqual({});
    expect(parse(['Content-Disposition: form-data; name="role"', 'Content-Disposition: form-data; name="safe"'])).toEqual({ role: ['admin'] });
    expect(parse(["Content-Disposition: form-data; name=\"safe\"; name*=UTF-8''role"])).toEqual({ role: ['admin'] });
  });

  it('strict refuses each of them; allowing the rule gives the compatible reading', () => {
    const lines = [['Content-Disposition: form-data; name="safe"; name="role"'], ['Content-Disposition: form-data; name="a"', 'content-type: text/plain', 'Content-Type: application/json'], ['Content-Disposition: form-data; name="a;b"']];
    for (const l of lines) expect(() => parseBody(MP, multipart(l), undefined, limits())).toThrow('request hygiene rule ambiguous_multipart_part');
    const allowed = hygieneSettings('strict', ['ambiguous_multipart_part']);
    expect(parseBody(MP, multipart(lines[0]!), undefined, limits(allowed)).parsedBody).toEqual({});
  });

  it('reads the boundary with quotes respected', () => {
    const body = '--real\r\nContent-Disposition: form-data; name="role"\r\n\r\nadmin\r\n--real--\r\n';
    const parsed = parseBody({ 'content-type': 'multipart/form-data; x="; boundary=evil"; boundary=real' }, body, undefined, limits(COMPATIBLE)).parsedBody;
    expect(parsed).toEqual({ role: ['admin'] });
  });
});

describe('content types', () => {
  it.each(['application/json;odata.metadata=minimal', 'application/vnd.elasticsearch+json; compatible-with=8', 'application/json; version=2', 'application/vnd.api+json; profile="https://example.com/p"'])('parses %s as JSON', (type) => {
    expect(parseBody({ 'content-type': type }, '{"a":1}', undefined, limits()).parsedBody).toEqual({ a: 1 });
  });

  it.each(['application/json; x=text/plain', 'application/x-www-form-urlencoded; x=application/json', 'application/vnd.api+json; ext="application/x-www-form-urlencoded"', 'multipart/form-data; boundary="application/json"'])('refuses %s', (type) => {
    expect(() => parseBody({ 'content-type': type }, '{"a":1}', undefined, limits())).toThrow('request hygiene rule ambiguous_content_type');
  });

  it('leaves framed +json types unparsed', () => {
    for (const type of ['application/grpc+json', 'application/grpc-web+json', 'application/connect+json']) {
      expect(isJsonMediaType(type)).toBe(false);
      expect(parseBody({ 'content-type': type }, '\u0000\u0000\u0000\u0000\u0002{}', undefined, limits()).parsedBody).toBeNull();
    }
    expect(isJsonMediaType('application/problem+json')).toBe(true);
  });
});

describe('empty path segments', () => {
  it('refuses an inner empty segment, allows a trailing one', () => {
    expect(() => screenPath(['api', '', 'admin'], STRICT)).toThrow('request hygiene rule empty_path_segment: path segment 2');
    expect(() => screenPath(['api', 'reports', ''], STRICT)).not.toThrow();
    expect(() => screenPath([''], STRICT)).not.toThrow();
    expect(() => screenPath(['api', '', 'admin'], hygieneSettings('strict', ['empty_path_segment']))).not.toThrow();
  });
});
