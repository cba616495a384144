/**
 * The error messages of time.* builtins (they reach the decision log and `print`-less debugging)
 * against `opa eval --strict-builtin-errors`: Go's ParseError texts, duration errors, zone errors,
 * OPA's range and operand errors.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { timeBuiltins } from '../../src/policy/builtins/time.js';
import type { BuiltinContext, RegoValue } from '../../src/policy/builtins/types.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

const ctx: BuiltinContext = { nowNs: () => 0n, memo: new Map(), print: () => undefined, validUntilNs: () => undefined };

const CASES: [string, RegoValue[]][] = [
  ['time.parse_ns', ['2006-01-02', '2021-02-29']],
  ['time.parse_ns', ['2006-01-02', '2021-02-2x']],
  ['time.parse_ns', ['2006-01-02', '2021-02-28 extra']],
  ['time.parse_ns', ['15:04:05', '23:59:60']],
  ['time.parse_ns', ['2006-002', '2021-366']],
  ['time.parse_ns', ['2006-01-02 002', '2020-03-01 060']],
  ['time.parse_ns', ['Jan 2006', 'Foo 2006']],
  ['time.parse_ns', ['2006 -0700', '2006 +2500']],
  ['time.parse_ns', ['2006-01-02', 'é"\\\u0001']],
  ['time.parse_ns', [1, '2006']],
  ['time.parse_rfc3339_ns', ['1677-09-21T00:12:43.145224191-00:00']],
  ['time.parse_rfc3339_ns', ['2006-01-02T15:04:05']],
  ['time.parse_duration_ns', ['']],
  ['time.parse_duration_ns', ['1x']],
  ['time.parse_duration_ns', ['1d1x']],
  ['time.parse_duration_ns', ['.d']],
  ['time.parse_duration_ns', ['9223372036854775808ns']],
  ['time.parse_duration_ns', ['1h ']],
  ['time.date', [[1, 'Nowhere/X']]],
  ['time.date', [[1, '../x']]],
  ['time.date', [1.5]],
  ['time.date', ['1']],
  ['time.date', [[]]],
  ['time.date', [[1, 2]]],
  ['time.format', [[1, 'UTC', 2]]],
  ['time.add_date', [9_223_372_036_854_775_807n, 0, 0, 1]],
  ['time.add_date', [0, 1.5, 0, 0]],
];

function opaMessage(builtin: string, args: RegoValue[]): string {
  // Arguments travel in input, so the type checker cannot refuse the call before it runs.
  const json = (v: RegoValue): string => (typeof v === 'bigint' ? v.toString() : Array.isArray(v) ? `[${v.map(json).join(',')}]` : JSON.stringify(v));
  const query = `x := ${builtin}(${args.map((_, i) => `input.a[${i}]`).join(', ')})`;
  let out: string;
  try {
    out = execFileSync(tool.opa, ['eval', '--strict-builtin-errors', '--stdin-input', '--format', 'json', query], { input: `{"a":[${args.map(json).join(',')}]}`, stdio: 'pipe' }).toString();
  } catch (err) {
    out = String((err as { stdout?: Buffer }).stdout ?? '');
  }
  const parsed = JSON.parse(out) as { errors?: { message: string }[] };
  return parsed.errors?.[0]?.message ?? '(no error)';
}

function ourMessage(builtin: string, args: RegoValue[]): string {
  try {
    timeBuiltins[builtin]!.fn(ctx, ...args);
    return '(no error)';
  } catch (err) {
    return (err as Error).message;
  }
}

describe.skipIf(tool.skip)('time builtin errors read like opa eval', () => {
  it('gives OPA\'s and Go\'s messages', () => {
    const mismatches = CASES.map(([b, a]) => ({ call: `${b}(${JSON.stringify(a, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))})`, opa: opaMessage(b, a), ours: ourMessage(b, a) }))
      .filter((c) => c.opa !== c.ours);
    expect(mismatches).toEqual([]);
  }, 60_000);
});
