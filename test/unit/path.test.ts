import { describe, expect, it } from 'vitest';
import { parseQueryString, parseRequestTarget } from '../../src/authz/path.js';
import { GatehouseError } from '../../src/errors.js';

describe('parsed_path and parsed_query', () => {
  it.each([
    ['/', [''], {}],
    ['/api/v1/stock', ['api', 'v1', 'stock'], {}],
    ['/api/v1/stock/', ['api', 'v1', 'stock', ''], {}],
    ['//api', ['api'], {}],
    ['/a//b', ['a', '', 'b'], {}],
    ['/a%20b/c', ['a b', 'c'], {}],
    ['/files/a%2Fb', ['files', 'a/b'], {}],
    ['/caf%C3%A9', ['café'], {}],
    ['/search?q=a+b&q=c%26d&empty=&flag', ['search'], { q: ['a b', 'c&d'], empty: [''], flag: [''] }],
    ['/p?a=1&&b=2', ['p'], { a: ['1'], b: ['2'] }],
    ['/p?x=%3D%3D&y=a=b', ['p'], { x: ['=='], y: ['a=b'] }],
    ['/p#frag', ['p'], {}],
    ['/p?q=1#frag', ['p'], { q: ['1'] }],
  ])('%s', (path, parsedPath, parsedQuery) => {
    expect(parseRequestTarget(path)).toEqual({ parsedPath, parsedQuery });
  });

  it('keeps an encoded slash inside its segment instead of making it a separator', () => {
    // opa-envoy-plugin decodes first and splits after, turning ["public%2F..%2Fadmin"] into a traversal.
    expect(parseRequestTarget('/public/a%2Fb').parsedPath).toEqual(['public', 'a/b']);
  });

  it('keeps "__proto__" and "constructor" as ordinary query keys the policy can see', () => {
    const parsed = parseRequestTarget('/p?__proto__=x&constructor=y&toString=z');
    expect(JSON.parse(JSON.stringify(parsed.parsedQuery))).toEqual(JSON.parse('{"__proto__":["x"],"constructor":["y"],"toString":["z"]}'));
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  it.each([
    ['', 'empty'],
    ['api/v1', 'not an absolute path'],
    ['*', 'not an absolute path'],
    ['/a/../admin', '".." segment'],
    ['/a/./b', '"." segment'],
    ['/a/%2e%2e/admin', '".." segment'],
    ['/a/%2E/b', '"." segment'],
    ['/public/..;/admin', '".." segment'],
    ['/public/..;jsessionid=1/admin', '".." segment'],
    ['/public/%2e%2e%3b/admin', '".." segment'],
    ['/public/.;x/admin', '"." segment'],
    ['/a/%zz', 'invalid percent-encoding in path'],
    ['/a/%', 'invalid percent-encoding in path'],
    ['/a/%C3', 'invalid percent-encoding in path'],
    ['/a/%FF', 'invalid percent-encoding in path'],
    ['/a?x=%zz', 'invalid percent-encoding in query'],
    ['/a?%=1', 'invalid percent-encoding in query'],
  ])('rejects %j (%s)', (path, message) => {
    expect(() => parseRequestTarget(path)).toThrow(GatehouseError);
    expect(() => parseRequestTarget(path)).toThrow(message);
    try {
      parseRequestTarget(path);
    } catch (error) {
      expect((error as GatehouseError).code).toBe('input_parse_error');
    }
  });

  it('parses form bodies the same way as queries', () => {
    expect(parseQueryString('a=1&b=two+words&a=3', 'body')).toEqual({ a: ['1', '3'], b: ['two words'] });
  });
});
