/**
 * semver.*, units.*, json.patch, json.marshal_with_options, object.subset,
 * graph.reachable_paths, numbers.range_step and uuid.parse against `opa eval`: the parsing edges
 * (leading zeros, empty pre-release, exponents, the float64 milli), patches on sets and arrays,
 * and OPA's quirks (an array holding duplicates covers a set). One opa eval for all.
 */
import { describe, it } from 'vitest';
import type { RegoValue } from '../../src/policy/builtins/types.js';
import type { BuiltinCase } from '../support/builtin-oracle.js';
import { pickOne, seededRandom } from '../support/seeded-random.js';
import { expectSameAsOpaNormalised, sortedArray } from '../support/builtin-oracle-normalised.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

const VERSIONS = [
  '1.2.3', 'v1.2.3', 'vv1.2.3', '01.2.3', '1.2', '1.2.3.4', '1.2.3-', '1.2.3+', '1.2.3-alpha', '1.2.3-alpha.1', '1.2.3-alpha.beta',
  '1.2.3-1', '1.2.3-01', '1.2.3-alpha.10', '1.2.3-alpha.9', '1.2.3-rc-1', '1.2.3+build.5', '1.2.3-beta+exp.sha', '1.2.3-a..b', '1.2.3-ä',
  '9223372036854775807.0.0', '9223372036854775808.0.0', '-1.2.3', '+1.2.3', '1.2.3-99999999999999999999', '1.2.3-1.a', '1.2.3-a.1',
  ' 1.2.3', '1.2.3 ', '', '1..3', '1.2.x', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0',
];

const AMOUNTS = [
  '1', '10', '1.5', '1m', '1000m', '0.5m', '1k', '1K', '1Ki', '1ki', '1KI', '1M', '1Mi', '1mi', '1MI', '1G', '1g', '1Gi', '1T', '1Ti', '1P', '1Pi', '1E', '1Ei',
  '1e3', '1E3', '1e-3', '1.5e2k', '1e', '1e+', '1ee', '010', '0.1', '.5', '5.', '.', '', 'k', '1 k', '"1k"', '1kb', '1KB', '1KiB', '1kib', '1mb', '1MB',
  '1gb', '1gib', '1tb', '1pb', '1eb', '1eib', '+1', '-1', '-1.5k', '1e30', '1.1e-1kb', '1e1234567', '12345678901234567890', '1e15m', '0.000000000001',
  '0.00000000005', '-0.00000000005', '1/2', '0x10', '1_000', '3.14159265358979323846', '2.5Ei', '1e-30', '99999999999999999999Ei', '1.23456789012345678e10',
];

function cases(): BuiltinCase[] {
  const out: BuiltinCase[] = [];
  VERSIONS.forEach((v, i) => {
    out.push({ builtin: 'semver.is_valid', args: [v] });
    // every version against itself and a fixed spread of the others
    VERSIONS.forEach((w, j) => {
      if (i === j || (i * 7 + j * 3) % 6 === 0) out.push({ builtin: 'semver.compare', args: [v, w] });
    });
  });
  const ordered = VERSIONS.slice(-10);
  for (const v of ordered) for (const w of ordered) out.push({ builtin: 'semver.compare', args: [v, w] });
  out.push({ builtin: 'semver.is_valid', args: [1] });

  for (const a of [...AMOUNTS, ...randomAmounts()]) {
    out.push({ builtin: 'units.parse', args: [a] });
    out.push({ builtin: 'units.parse_bytes', args: [a] });
  }
  const versions = randomVersions();
  versions.forEach((v, i) => {
    out.push({ builtin: 'semver.is_valid', args: [v] });
    out.push({ builtin: 'semver.compare', args: [v, versions[(i * 7 + 3) % versions.length]!] });
  });

  const doc = { a: { b: [1, 2, { c: 3 }], s: new Set(['x', 'y']) as unknown as RegoValue }, n: null };
  const patches: unknown[][] = [
    [{ op: 'add', path: '/a/b/-', value: 4 }], [{ op: 'add', path: '/a/b/0', value: 0 }], [{ op: 'add', path: '/a/b/3', value: 9 }],
    [{ op: 'add', path: '/a/b/4', value: 9 }], [{ op: 'add', path: '/a/b/01', value: 9 }], [{ op: 'add', path: '/a/b/-1', value: 9 }],
    [{ op: 'remove', path: '/a/b/1' }], [{ op: 'remove', path: '/a/b/3' }], [{ op: 'remove', path: '/a/x' }], [{ op: 'remove', path: '/n' }],
    [{ op: 'replace', path: '/a/b/2/c', value: 'c' }], [{ op: 'replace', path: '/a/zz', value: 1 }], [{ op: 'replace', path: '', value: 5 }],
    [{ op: 'move', from: '/a/b', path: '/b' }], [{ op: 'move', from: '/a', path: '/a/x' }], [{ op: 'copy', from: '/a/b/2', path: '/a/b/-' }],
    [{ op: 'test', path: '/a/b/2/c', value: 3 }], [{ op: 'test', path: '/a/b/2/c', value: 4 }], [{ op: 'test', path: '/a/b/2/c', value: 3.0 }],
    [{ op: 'add', path: '/a/s/z', value: 'z' }], [{ op: 'add', path: '/a/s/z', value: 'w' }], [{ op: 'remove', path: '/a/s/x' }],
    [{ op: 'remove', path: '/a/s/q' }], [{ op: 'add', path: ['a', 'b', 0], value: 'first' }], [{ op: 'add', path: ['a', 'k'], value: 'k' }],
    [{ op: 'add', path: '//a/k', value: 1 }], [{ op: 'add', path: '/a~1b', value: 1 }], [{ op: 'add', path: '/~0', value: 1 }], [{ op: 'add', path: '/', value: 1 }],
    [{ op: 'bogus', path: '/a' }], [{ path: '/a' }], [{ op: 'add', value: 1 }], [{ op: 'add', path: '/q' }], [{ op: 1, path: '/a' }], [1],
    // (removing the whole document makes opa eval panic, alone or before further patches)
    [{ op: 'add', path: '/n/x', value: 1 }], [{ op: 'add', path: '/a/b/+1', value: 'plus' }], [{ op: 'add', path: '/a/b/1/x', value: 1 }],
    [{ op: 'copy', from: '/missing', path: '/x' }], [{ op: 'add', path: 5, value: 1 }],
  ];
  for (const p of [...patches, ...randomPatches()]) out.push({ builtin: 'json.patch', args: [doc as unknown as RegoValue, p as RegoValue] });
  out.push({ builtin: 'json.patch', args: [new Set([1, 2]), [{ op: 'add', path: '/3', value: 3 }]] });
  out.push({ builtin: 'json.patch', args: [new Set([1, 2]), [{ op: 'add', path: [3], value: 3 }, { op: 'remove', path: [1] }]] });
  out.push({ builtin: 'json.patch', args: [[1, 2], [{ op: 'add', path: '/1', value: 'x' }]] });
  out.push({ builtin: 'json.patch', args: ['scalar', [{ op: 'add', path: '/1', value: 'x' }]] });

  const values: RegoValue[] = [{ a: 1, b: [1, 'two', null, true], c: {}, d: [], e: '<&>\u2028é' }, [], {}, 'x', 1.5, new Set([3, 1, 2]) as RegoValue];
  const options: RegoValue[] = [{}, { pretty: true }, { pretty: false, indent: '  ' }, { indent: '  ' }, { prefix: '//' }, { prefix: '>', indent: '\t\t' },
    { pretty: 'yes' }, { unknown: 1 }, { indent: 2 }, { pretty: true, prefix: '#', indent: '...........' }];
  for (const v of values) for (const o of options) out.push({ builtin: 'json.marshal_with_options', args: [v, o] });

  const subsets: [RegoValue, RegoValue][] = [
    [{ a: 1, b: { c: 2, d: 3 } }, { b: { c: 2 } }], [{ a: 1 }, { a: 2 }], [{ a: [1, 2, 3] }, { a: [2, 3] }], [{ a: [1, 2, 3] }, { a: [1, 3] }],
    [[1, 2, 3, 2, 3, 4], [2, 3, 4]], [[1, 2], []], [[], []], [[1, 1], new Set([1, 2]) as RegoValue], [[1, 2], new Set([2, 1]) as RegoValue],
    [[], new Set() as RegoValue], [[1], new Set() as RegoValue], [new Set([1, 2, [3]]) as RegoValue, new Set([[3]]) as RegoValue], [{ a: new Set([1, 2]) as RegoValue }, { a: new Set([1]) as RegoValue }],
    [{ a: 1 }, [1]], [1, 1], [{ a: { b: [1, 2] } }, { a: { b: [2] } }], [{ a: 1.0 }, { a: 1 }],
  ];
  for (const [sup, sub] of subsets) out.push({ builtin: 'object.subset', args: [sup, sub] });

  const graphs: [RegoValue, RegoValue][] = [
    [{ a: ['b', 'c'], b: ['c'], c: ['a'] }, ['a']], [{ a: ['b'], b: [] }, ['a', 'b', 'z']], [{ a: ['x'] }, ['a']], [{ a: new Set(['b']) as RegoValue, b: 'nope' }, new Set(['a']) as RegoValue],
    [{ a: ['a'] }, ['a']], [{ a: ['b', 'c'], b: ['d'], c: ['d'], d: [] }, ['a']], [{}, ['a']], [{ a: [] }, []],
  ];
  for (const [g, init] of graphs) out.push({ builtin: 'graph.reachable_paths', args: [g, init] });

  for (const [a, b, s] of [[1, 10, 3], [10, 1, 3], [1, 1, 1], [0, 5, 0], [0, 5, -1], [1, 2, 1.5], [1.5, 3, 1], [-5, 5, 5], [9007199254740990, 9007199254740999, 4]]) {
    out.push({ builtin: 'numbers.range_step', args: [a!, b!, s!] });
  }

  for (const u of ['00000000-0000-1000-8000-000000000000', 'e0a3b1c2-1d2e-11ef-9a3b-0242ac120002', '{e0a3b1c2-1d2e-11ef-9a3b-0242ac120002}',
    'xe0a3b1c2-1d2e-11ef-9a3b-0242ac120002y', 'urn:uuid:e0a3b1c2-1d2e-11ef-9a3b-0242ac120002', 'URN:UUID:E0A3B1C2-1D2E-11EF-9A3B-0242AC120002',
    'e0a3b1c21d2e11ef9a3b0242ac120002', '000003e8-1d2e-21ef-9a00-0242ac120002', '000003e8-1d2e-21ef-9a05-0242ac120002', 'f47ac10b-58cc-4372-a567-0e02b2c3d479',
    'f47ac10b-58cc-4372-c567-0e02b2c3d479', 'f47ac10b-58cc-4372-e567-0e02b2c3d479', 'f47ac10b-58cc-4372-0567-0e02b2c3d479', 'ffffffff-ffff-1fff-bfff-ffffffffffff',
    'not-a-uuid', 'e0a3b1c2-1d2e-11ef-9a3b-0242ac12000g', 'e0a3b1c2x1d2e-11ef-9a3b-0242ac120002', '', 'é0a3b1c2-1d2e-11ef-9a3b-0242ac12000']) {
    out.push({ builtin: 'uuid.parse', args: [u] });
  }
  return out;
}

/**
 * Seeded random patch lists (1 to 4 operations) over the test document: paths that exist, nearly
 * exist, index arrays and sets, as strings or arrays; never removing the whole document (opa eval
 * panics on that).
 */
function randomPatches(): unknown[][] {
  const rand = seededRandom(0x7061746368);
  const existing = ['/a', '/a/b', '/a/b/0', '/a/b/1', '/a/b/2', '/a/b/2/c', '/a/s', '/a/s/x', '/a/s/y', '/n'];
  const fresh = ['/a/new', '/a/b/-', '/a/b/3', '/a/b/0', '/a/s/z', '/a/b/2/d', '/top', '/a/b/01', '/a/x/y', '/n/x', '/a/s/x/y'];
  const asArray = (p: string) => p.slice(1).split('/').map((k) => (/^\d$/.test(k) && rand() < 0.5 ? Number(k) : k));
  const path = (pool: string[]) => {
    const p = pickOne(rand, pool);
    return rand() < 0.25 ? asArray(p) : p;
  };
  const values: unknown[] = [1, 'x', 'y', 'z', null, [1], { k: 'v' }, 3];
  // four of these lists make opa eval panic in its edit tree (reading a set element removed just
  // before; moving an array element onto itself after another move): left out (gatehouse errors)
  const panics = new Set([54, 62, 359, 580]);
  const lists = Array.from({ length: 600 }, () =>
    Array.from({ length: 1 + Math.floor(rand() * 3) }, () => {
      const op = pickOne(rand, ['add', 'add', 'remove', 'replace', 'move', 'copy', 'test']);
      const o: Record<string, unknown> = { op, path: path(op === 'add' || op === 'move' || op === 'copy' ? [...fresh, ...existing] : existing) };
      if (op === 'add' || op === 'replace' || op === 'test') o.value = pickOne(rand, values);
      if (op === 'move' || op === 'copy') o.from = path(existing);
      return o;
    }),
  );
  return lists.filter((_, i) => !panics.has(i));
}

/** Seeded random amounts: signs, digits, fractions, exponents (some too long), all the units. */
function randomAmounts(): string[] {
  const rand = seededRandom(0x756e6974);
  const digits = (n: number) => Array.from({ length: n }, () => String(Math.floor(rand() * 10))).join('');
  const units = ['', 'm', 'k', 'K', 'Ki', 'ki', 'M', 'Mi', 'mi', 'G', 'g', 'Gi', 'T', 'Ti', 'P', 'Pi', 'E', 'Ei', 'kb', 'KB', 'kib', 'MiB', 'gb', 'x', 'b'];
  return Array.from({ length: 300 }, () => {
    let n = pickOne(rand, ['', '', '-', '+']) + digits(1 + Math.floor(rand() * 12));
    if (rand() < 0.5) n += `.${digits(Math.floor(rand() * 12))}`;
    if (rand() < 0.3) n += `${pickOne(rand, ['e', 'E'])}${pickOne(rand, ['', '-', '+'])}${digits(1 + Math.floor(rand() * 2))}`;
    return n + pickOne(rand, units);
  });
}

/** Seeded random versions from valid and near-valid parts. */
function randomVersions(): string[] {
  const rand = seededRandom(0x73656d76);
  const num = () => pickOne(rand, ['0', '1', '2', '10', '01', '99999999999999999999', 'x', '']);
  const ident = () => pickOne(rand, ['alpha', 'beta', '1', '2', '10', '01', 'rc-1', 'a.b', '', 'x_y']);
  return Array.from({ length: 200 }, () => {
    let v = `${rand() < 0.2 ? 'v' : ''}${num()}.${num()}.${num()}`;
    if (rand() < 0.5) v += `-${ident()}${rand() < 0.5 ? `.${ident()}` : ''}`;
    if (rand() < 0.3) v += `+${ident()}`;
    return v;
  });
}

describe.skipIf(tool.skip)('value builtins against opa eval', () => {
  it('gives the results OPA gives', () => {
    // graph.reachable_paths returns a set: compared in one order. units.parse's non-integral results
    // are float64s in gatehouse: beyond 2^53 they are compared as float64s (OPA keeps all digits)
    expectSameAsOpaNormalised(
      tool.opa,
      cases(),
      (o, c) => (c.builtin === 'graph.reachable_paths' ? sortedArray(o) : c.builtin === 'units.parse' && typeof o === 'bigint' ? Number(o) : o),
      { minDefined: 0.5 },
    );
  }, 60_000);
});
