import { describe, expect, it } from 'vitest';
import { parseBody } from '../../src/authz/body.js';

const limits = { maxBodyBytes: 1024 };
const json = { 'content-type': 'application/json' };

describe('parsed_body and truncated_body', () => {
  it('parses a JSON body', () => {
    expect(parseBody(json, '{"a":[1,true,null]}', undefined, limits)).toEqual({ parsedBody: { a: [1, true, null] }, truncatedBody: false });
  });

  it('parses raw_body (base64 in proto JSON) when body is empty', () => {
    const raw = Buffer.from('{"from":"raw"}').toString('base64');
    expect(parseBody(json, '', raw, limits).parsedBody).toEqual({ from: 'raw' });
  });

  it('leaves parsed_body null without a content type, with an unknown one, or without a body', () => {
    expect(parseBody({}, '{"a":1}', undefined, limits)).toEqual({ parsedBody: null, truncatedBody: false });
    expect(parseBody({ 'content-type': 'text/plain' }, 'hello', undefined, limits).parsedBody).toBeNull();
    expect(parseBody(json, undefined, undefined, limits).parsedBody).toBeNull();
  });

  it('limits bodies of every content type, parsed or not', () => {
    expect(() => parseBody({ 'content-type': 'text/plain' }, 'x'.repeat(2000), undefined, limits)).toThrow('over max_body_bytes');
    expect(() => parseBody({}, 'x'.repeat(2000), undefined, limits)).toThrow('over max_body_bytes');
  });

  it('refuses JSON nested deeper than 128 levels, counting only outside strings', () => {
    const big = { maxBodyBytes: 1 << 20 };
    const deep = `${'['.repeat(129)}${']'.repeat(129)}`;
    expect(() => parseBody(json, deep, undefined, big)).toThrow('nests JSON deeper than 128 levels');
    expect(() => parseBody(json, `{"a":${'{"b":'.repeat(200)}1${'}'.repeat(200)}}`, undefined, big)).toThrow('deeper than 128');
    const shallowWithBrackets = JSON.stringify({ s: '[[[['.repeat(100), q: '\\"[[[' });
    expect(parseBody(json, shallowWithBrackets, undefined, big).parsedBody).toEqual(JSON.parse(shallowWithBrackets));
    expect(parseBody(json, `${'['.repeat(128)}${']'.repeat(128)}`, undefined, big).truncatedBody).toBe(false);
  });

  it('matches content types case-insensitively', () => {
    expect(parseBody({ 'content-type': 'Application/JSON' }, '{"a":1}', undefined, limits).parsedBody).toEqual({ a: 1 });
  });

  it('matches content types with parameters', () => {
    expect(parseBody({ 'content-type': 'application/json; charset=utf-8' }, '[1]', undefined, limits).parsedBody).toEqual([1]);
  });

  it('parses urlencoded forms into arrays of values', () => {
    const headers = { 'content-type': 'application/x-www-form-urlencoded' };
    expect(parseBody(headers, 'user=ann&role=a&role=b', undefined, limits).parsedBody).toEqual({ user: ['ann'], role: ['a', 'b'] });
  });

  it('parses multipart forms, JSON parts as JSON', () => {
    const body = [
      '--XyZ',
      'Content-Disposition: form-data; name="title"',
      '',
      'hello world',
      '--XyZ',
      'Content-Disposition: form-data; name="meta"',
      'Content-Type: application/json',
      '',
      '{"tags":["a"]}',
      '--XyZ',
      'Content-Disposition: form-data; name="title"',
      '',
      'second',
      '--XyZ--',
      '',
    ].join('\r\n');
    const headers = { 'content-type': 'multipart/form-data; boundary="XyZ"' };
    expect(parseBody(headers, body, undefined, limits).parsedBody).toEqual({ title: ['hello world', 'second'], meta: [{ tags: ['a'] }] });
  });

  it('takes multipart parts named like Object.prototype members as ordinary names', () => {
    const part = (name: string) => `--b\r\nContent-Disposition: form-data; name="${name}"\r\n\r\nv\r\n`;
    const body = `${part('constructor')}${part('__proto__')}${part('toString')}--b--\r\n`;
    const parsed = parseBody({ 'content-type': 'multipart/form-data; boundary=b' }, body, undefined, limits).parsedBody;
    expect(JSON.parse(JSON.stringify(parsed))).toEqual(JSON.parse('{"constructor":["v"],"__proto__":["v"],"toString":["v"]}'));
  });

  it('rejects a multipart body without its closing delimiter', () => {
    const headers = { 'content-type': 'multipart/form-data; boundary=b' };
    expect(() => parseBody(headers, '--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n', undefined, limits)).toThrow('missing closing delimiter');
  });

  it('marks the body truncated when Envoy says so or content-length is larger', () => {
    expect(parseBody({ ...json, 'x-envoy-auth-partial-body': 'true' }, '{"a":', undefined, limits)).toEqual({ parsedBody: null, truncatedBody: true });
    expect(parseBody({ ...json, 'content-length': '100' }, '{"a":', undefined, limits)).toEqual({ parsedBody: null, truncatedBody: true });
    expect(parseBody({ ...json, 'content-length': '7' }, '{"a":1}', undefined, limits)).toEqual({ parsedBody: { a: 1 }, truncatedBody: false });
  });

  it('counts content-length in bytes, not characters', () => {
    const body = '{"n":"é"}'; // 10 bytes, 9 characters
    expect(parseBody({ ...json, 'content-length': '10' }, body, undefined, limits).truncatedBody).toBe(false);
  });

  it.each([
    ['invalid JSON', json, '{"a":', 'input_parse_error', 'not valid JSON'],
    ['a non-numeric content-length', { ...json, 'content-length': 'abc' }, '{}', 'input_parse_error', 'invalid content-length'],
    ['a body over max_body_bytes', json, `"${'x'.repeat(2000)}"`, 'body_too_large', 'over max_body_bytes (1024)'],
    ['bad form encoding', { 'content-type': 'application/x-www-form-urlencoded' }, 'a=%zz', 'input_parse_error', 'percent-encoding'],
  ])('rejects %s', (_name, headers, body, code, message) => {
    expect(() => parseBody(headers, body, undefined, limits)).toThrow(message);
    try {
      parseBody(headers, body, undefined, limits);
    } catch (error) {
      expect((error as { code: string }).code).toBe(code);
    }
  });
});
