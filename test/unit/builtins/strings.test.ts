/**
 * The strings host builtins called directly: Go's fmt as OPA's sprintf uses it, the collection
 * matchers, split_n, indexof_n, glob.quote_meta and the text/template subset of
 * strings.render_template. (test/integration/builtins-strings.test.ts compares with `opa eval`.)
 */
import { describe, expect, it } from 'vitest';
import { goSprintf } from '../../../src/policy/builtins/go-fmt.js';
import { formatFloat } from '../../../src/policy/builtins/go-float.js';
import { goArgsFromValueText } from '../../../src/policy/builtins/sprintf-args.js';
import { stringsBuiltins } from '../../../src/policy/builtins/strings.js';
import type { BuiltinContext, RegoValue } from '../../../src/policy/builtins/types.js';

const ctx = {} as BuiltinContext;
const call = (name: string, ...args: RegoValue[]) => stringsBuiltins[name]!.fn(ctx, ...args);
const sprintf = (format: string, ...args: RegoValue[]) => call('sprintf', format, args);
const render = (template: string, vars: RegoValue = {}) => call('strings.render_template', template, vars);

describe('sprintf', () => {
  it('formats integers as int64, beyond as *big.Int, exactly', () => {
    expect(sprintf('%d', 42)).toBe('42');
    expect(sprintf('%s', 123456789123456789123n)).toBe('123456789123456789123');
    expect(sprintf('%x', 1208925819614629174706175n)).toBe('ffffffffffffffffffff');
    expect(sprintf('%d', -9223372036854775808n)).toBe('-9223372036854775808');
    expect(sprintf('%08.3d|%-6d|%+d|%#x|%#o|%b', -12, 7, 5, 255, 8, 5)).toBe('    -012|7     |+5|0xff|010|101');
  });

  it('formats floats like Go: shortest %v, exact half-to-even rounding for precisions', () => {
    expect(sprintf('%v %v %v', 1.5, 0.1, 1e20)).toBe('1.5 0.1 100000000000000000000');
    expect(sprintf('%.0f %.0f %.0f %.2f', 0.5, 1.5, 2.5, 0.125)).toBe('0 2 2 0.12');
    expect(sprintf('%e %g %.3g %G', 1234.5678, 0.00001234, 1234.5678, 1.5e-7)).toBe('1.234568e+03 1.234e-05 1.23e+03 1.5E-07');
    expect(sprintf('%8.3f|%-8.2f|%08.3f', 3.14159, 2.5, -3.14159)).toBe('   3.142|2.50    |-003.142');
  });

  it('passes a number written with an exponent as its text, as OPA does', () => {
    expect(sprintf('%v|%d', 1e-7, 1e-7)).toBe('1e-7|%!d(string=1e-7)');
  });

  it('formats strings with Go quoting and rune-counted widths', () => {
    expect(sprintf('%q', 'héllo\n\u0001')).toBe('"héllo\\n\\x01"');
    expect(sprintf('%+q', 'é')).toBe('"\\u00e9"');
    expect(sprintf('%#q', 'a"b')).toBe('`a"b`');
    expect(sprintf('%5s|%-5s|%05s|%.2s', 'é', 'é', 'ab', '日本語')).toBe('    é|é    |000ab|日本');
    expect(sprintf('%x % X', 'hé', 'ab')).toBe('68c3a9 61 62');
  });

  it('writes anything else as its Rego text, sets and objects in OPA order', () => {
    expect(sprintf('%v', { b: 1, a: [true, null] })).toBe('{"a": [true, null], "b": 1}');
    expect(sprintf('%v %v', new Set([3, 1, 2]) as RegoValue, new Set() as RegoValue)).toBe('{1, 2, 3} set()');
  });

  it("reproduces Go's error forms", () => {
    expect(sprintf('%d', 'x')).toBe('%!d(string=x)');
    expect(sprintf('%d %d', 1)).toBe('1 %!d(MISSING)');
    expect(sprintf('%d', 1, 'x', 2.5)).toBe('1%!(EXTRA string=x, float64=2.5)');
    expect(sprintf('%[3]d', 1)).toBe('%!d(BADINDEX)');
    expect(sprintf('%', 1)).toBe('%!(NOVERB)%!(EXTRA int64=1)');
    expect(sprintf('%z %T %T', 1, 1.5, 5n ** 40n)).toBe('%!z(int64=1) float64 *big.Int');
    expect(sprintf('%*d', 'x', 3)).toBe('%!(BADWIDTH)3');
  });

  it('rejects operands of the wrong type', () => {
    expect(() => call('sprintf', 1, [])).toThrow(/operand 1 must be string/);
    expect(() => call('sprintf', '%d', 'x')).toThrow(/operand 2 must be array/);
  });
});

describe('sprintf operands from the Rego value text (numbers as written)', () => {
  it('keeps 1.0 a float64, 1e3 and 2e308 their text, as OPA does', () => {
    const args = goArgsFromValueText('[1.0,1e3,2e308,10.00,7,123456789123456789123,"a,b",[1.0],{"k":[1,2]},{2,1},set()]');
    expect(args.map((a) => a.kind)).toEqual(['float', 'string', 'string', 'float', 'int', 'big', 'string', 'string', 'string', 'string', 'string']);
    // what `opa eval` prints for sprintf("%v %v %v %.2f %d %v %s", [1.0, 1e3, 2e308, 10.00, 7, ...])
    expect(goSprintf('%v %v %v %.2f %d %v %s', args.slice(0, 7))).toBe('1 1e3 2e308 10.00 7 123456789123456789123 a,b');
    expect(goSprintf('%v %v %v', args.slice(8))).toBe('{"k": [1, 2]} {1, 2} set()');
    expect(goArgsFromValueText('[]')).toEqual([]);
    expect(() => goArgsFromValueText('{}')).toThrow(SyntaxError);
  });
});

describe('formatFloat (strconv.FormatFloat)', () => {
  it('handles zero, negative zero, denormals and the extremes', () => {
    expect(formatFloat(0, 'g', -1)).toBe('0');
    expect(formatFloat(-0, 'f', 2)).toBe('-0.00');
    expect(formatFloat(5e-324, 'e', 3)).toBe('4.941e-324');
    expect(formatFloat(1.7976931348623157e308, 'g', -1)).toBe('1.7976931348623157e+308');
    expect(formatFloat(1, 'x', -1)).toBe('0x1p+00');
    expect(formatFloat(0.1, 'b', -1)).toBe('7205759403792794p-56');
    expect(formatFloat(9.5, 'f', 0)).toBe('10');
  });

  it('rounds exact ties to even where JavaScript rounds them up, and agrees elsewhere', () => {
    expect([formatFloat(0.625, 'f', 2), (0.625).toFixed(2)]).toEqual(['0.62', '0.63']);
    expect(formatFloat(-2.5, 'f', 0)).toBe('-2');
    expect(formatFloat(0.375, 'f', 2)).toBe('0.38');
    expect(formatFloat(1.005, 'f', 2)).toBe('1.00'); // 1.005 is 1.00499999... in binary: no tie
    expect(formatFloat(-0.001, 'f', 2)).toBe('-0.00');
  });
});

describe('collections, counting, splitting', () => {
  it('any_prefix_match / any_suffix_match over strings, arrays and sets', () => {
    expect(call('strings.any_prefix_match', ['abc', 'xyz'], 'xy')).toBe(true);
    expect(call('strings.any_prefix_match', new Set(['foo']) as RegoValue, ['a', 'fo'])).toBe(true);
    expect(call('strings.any_prefix_match', [], '')).toBe(false);
    expect(call('strings.any_suffix_match', 'hello.example.com', new Set(['.com', '.org']) as RegoValue)).toBe(true);
    expect(() => call('strings.any_suffix_match', 1, 'a')).toThrow(/operand 1/);
    expect(() => call('strings.any_prefix_match', ['a', 1], 'a')).toThrow(/operand 1/);
  });

  it('count is non-overlapping and counts rune gaps for an empty substring', () => {
    expect(call('strings.count', 'aaaa', 'aa')).toBe(2);
    expect(call('strings.count', '日本', '')).toBe(3);
  });

  it('split_n keeps the first n parts, or the last -n', () => {
    expect(call('strings.split_n', 'a.b.c.d', '.', 2)).toEqual(['a', 'b']);
    expect(call('strings.split_n', 'a.b.c.d', '.', -2)).toEqual(['c', 'd']);
    expect(call('strings.split_n', 'a.b', '.', 10)).toEqual(['a', 'b']);
    expect(call('strings.split_n', 'a.b', '.', 0)).toEqual([]);
    expect(call('strings.split_n', '日本語', '', 2)).toEqual(['日', '本']);
  });

  it('indexof_n gives rune offsets of overlapping occurrences', () => {
    expect(call('indexof_n', 'aaaa', 'aa')).toEqual([0, 1, 2]);
    expect(call('indexof_n', 'é日é日', '日')).toEqual([1, 3]);
    expect(() => call('indexof_n', 'a', '')).toThrow(/empty search/);
  });

  it('glob.quote_meta escapes gobwas/glob metacharacters', () => {
    expect(call('glob.quote_meta', '*.github.com')).toBe('\\*.github.com');
    expect(call('glob.quote_meta', '[a]{b,c}?\\')).toBe('\\[a\\]\\{b,c\\}\\?\\\\');
  });
});

describe('strings.render_template', () => {
  const vars: RegoValue = { name: 'world', n: 2023, list: ['a', 'b'], obj: { b: 'B', a: 'A' }, nil: null, zero: 0 };

  it('renders fields, ranges, conditions and pipelines as text/template', () => {
    expect(render('hello {{.name}}', vars)).toBe('hello world');
    expect(render('{{range $i, $e := .list}}{{if $i}},{{end}}{{$e}}{{end}}', vars)).toBe('a,b');
    expect(render('{{range $k, $v := .obj}}{{$k}}={{$v}} {{end}}', vars)).toBe('a=A b=B ');
    expect(render('{{if .zero}}json.Number "0" is true{{end}}', vars)).toBe('json.Number "0" is true');
    expect(render('{{.name | printf "%q"}} {{len .list}} {{index .list 1}}', vars)).toBe('"world" 2 b');
    expect(render('a  {{- .name -}}  b {{/* gone */}}', vars)).toBe('aworldb ');
    expect(render('{{.obj}} {{.list}}', vars)).toBe('map[a:A b:B] [a b]');
    expect(render('{{range .list}}{{if eq . "b"}}{{break}}{{end}}{{.}}{{end}}|{{range .list}}{{if eq . "a"}}{{continue}}{{end}}{{.}}{{end}}', vars)).toBe('a|b');
    expect(render('{{define "item"}}<{{.}}>{{end}}{{range .list}}{{template "item" .}}{{end}}{{block "b" .name}}[{{.}}]{{end}}', vars)).toBe('<a><b>[world]');
    expect(render('{{js "<a=\'b\'>"}} {{slice .name 1 3}} {{slice .list 1}}', vars)).toBe("\\u003Ca\\u003D\\'b\\'\\u003E or [b]");
  });

  it('writes <undefined> for a missing value', () => {
    expect(render('{{.missing}} {{.nil}} {{.missing.deeper}}', vars)).toBe('<undefined> <undefined> <undefined>');
  });

  it("is undefined where Go errors, and where gatehouse does not implement the feature", () => {
    expect(() => render('{{.name.deeper}}', vars)).toThrow(/can't evaluate field/);
    expect(() => render('{{.nil.deeper}}', vars)).toThrow(/nil pointer/);
    expect(() => render('{{nosuch}}', vars)).toThrow(/not defined/);
    expect(() => render('{{if .name}}', vars)).toThrow(/EOF/);
    expect(() => render('{{eq .n 2023}}', vars)).toThrow(/incompatible types/);
    expect(() => render('{{break}}', vars)).toThrow(/outside/);
    expect(() => render('{{template "x"}}', vars)).toThrow(/no such template/);
    expect(() => render('{{if false}}{{$y}}{{end}}', vars)).toThrow(/undefined variable/); // a parse error, even unexecuted
    expect(() => render('{{define "x"}}{{template "x"}}{{end}}{{template "x"}}', vars)).toThrow(/maximum template depth/);
    expect(() => render('{{range 100000000000}}{{end}}', vars)).toThrow(/too expensive/);
    for (const unsupported of ['{{printf "%p" .list}}', '{{call .name}}']) {
      expect(() => render(unsupported, vars)).toThrow();
    }
  });
});
