/**
 * Bundle archives, hostile and ordinary, read by gatehouse (src/policy/tar.ts, node-tar) and by
 * Go's archive/tar + compress/gzip the way OPA's bundle tarballLoader reads them (Next() until
 * io.EOF; TypeReg entries are the files, everything else skipped). The property: gatehouse
 * refuses the archive, or Go reads it without error to the same files (names after gatehouse's
 * cleanPath, same bytes, same order). Needs the Go toolchain (./dev setup uses it to install OPA).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanPath, readTar, readTarGz } from '../../src/policy/tar.js';
import { findOpa } from '../support/tools.js';
import { buildGoProgram, goOrSkip } from '../support/go.js';

const GO_READER = `package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
)

type entry struct {
	Type string \`json:"type"\`
	Name string \`json:"name"\`
	Data string \`json:"data"\`
}

func read(b []byte, gz bool) map[string]any {
	var r io.Reader = bytes.NewReader(b)
	if gz {
		g, err := gzip.NewReader(r)
		if err != nil {
			return map[string]any{"error": err.Error()}
		}
		r = g
	}
	tr := tar.NewReader(r)
	entries := []entry{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return map[string]any{"entries": entries}
		}
		if err != nil {
			return map[string]any{"error": err.Error()}
		}
		e := entry{Type: string([]byte{h.Typeflag}), Name: base64.StdEncoding.EncodeToString([]byte(h.Name))}
		if h.Typeflag == tar.TypeReg {
			var buf bytes.Buffer
			if _, err := io.Copy(&buf, tr); err != nil {
				return map[string]any{"error": err.Error()}
			}
			e.Data = base64.StdEncoding.EncodeToString(buf.Bytes())
		}
		entries = append(entries, e)
	}
}

func main() {
	var inputs []struct {
		Archive string \`json:"archive"\`
		Gz      bool   \`json:"gz"\`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&inputs); err != nil {
		panic(err)
	}
	out := []map[string]any{}
	for _, in := range inputs {
		b, _ := base64.StdEncoding.DecodeString(in.Archive)
		out = append(out, read(b, in.Gz))
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
`;


// Archives built by hand: a ustar header with any field set, its checksum computed.
type Fields = { name?: string | Buffer; size?: number; sizeField?: Buffer; type?: string; magic?: string; prefix?: string; trailer?: string; at?: [number, string][] };
function header(f: Fields, dataLength: number): Buffer {
  const h = Buffer.alloc(512);
  (typeof f.name === 'string' || f.name === undefined ? Buffer.from(f.name ?? 'a.json') : f.name).copy(h, 0, 0, 100);
  h.write('0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  (f.sizeField ?? Buffer.from(`${(f.size ?? dataLength).toString(8).padStart(11, '0')}\0`, 'latin1')).copy(h, 124);
  h.write('00000000000\0', 136, 'latin1');
  h.write(f.type ?? '0', 156, 'latin1');
  h.write(f.magic ?? 'ustar\u000000', 257, 'latin1');
  if (f.prefix) h.write(f.prefix, 345, 'latin1');
  if (f.trailer) h.write(f.trailer, 508, 'latin1');
  for (const [offset, bytes] of f.at ?? []) h.write(bytes, offset, 'latin1');
  h.write('        ', 148, 'latin1');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}
const pad = (data: Buffer) => Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
const file = (data: string | Buffer, f: Fields = {}) => Buffer.concat([header(f, Buffer.byteLength(data)), pad(Buffer.from(data))]);
const END = Buffer.alloc(1024);
const tar = (...entries: Buffer[]) => Buffer.concat([...entries, END]);
function pax(records: [string, string][], type = 'x'): Buffer {
  const body = records.map(([key, value]) => {
    const line = ` ${key}=${value}\n`;
    let length = Buffer.byteLength(line) + 1;
    while (`${length}${line}`.length !== length) length++;
    return `${length}${line}`;
  }).join('');
  return file(body, { name: 'PaxHeader', type });
}
const longName = (name: string) => file(`${name}\0`, { name: '././@LongLink', type: 'L', magic: 'ustar  \0' });
const REGO = 'package p\nallow := true\n';
const hidden = file('package p\nallow := false\n', { name: 'evil.rego' });
const b256 = (n: number) => Buffer.concat([Buffer.from([0x80]), Buffer.from(n.toString(16).padStart(22, '0'), 'hex')]);

const CASES: Record<string, Buffer> = {
  'a plain file': tar(file(REGO, { name: 'a.rego' })),
  'a directory with a size (Go: header only; node-tar: size 0)': tar(file('', { name: 'd/', type: '5', size: hidden.length }), hidden, file(REGO, { name: 'a.rego' })),
  'a pax size on a directory': tar(pax([['size', String(hidden.length)]]), file('', { name: 'd/', type: '5' }), hidden),
  'a GNU long name then a pax path': tar(longName('good.rego'), pax([['path', 'evil.rego']]), file(REGO, { name: 'ustar.rego' })),
  'a pax path then a GNU long name': tar(pax([['path', 'evil.rego']]), longName('good.rego'), file(REGO, { name: 'ustar.rego' })),
  'two pax headers for one entry': tar(pax([['path', 'evil.rego']]), pax([['comment', 'x']]), file(REGO, { name: 'good.rego' })),
  'a pax path, a global header, the entry': tar(pax([['path', 'evil.rego']]), pax([['comment', 'x']], 'g'), file(REGO, { name: 'good.rego' })),
  'a GNU long name, a global header, the entry': tar(longName('evil.rego'), pax([['comment', 'x']], 'g'), file(REGO, { name: 'good.rego' })),
  'a global comment then a file': tar(pax([['comment', 'abc']], 'g'), file(REGO, { name: 'a.rego' })),
  'a pax path with a newline': tar(pax([['path', 'ev\nil.rego']]), file(REGO, { name: 'good.rego' })),
  'a pax comment hiding a size record after a newline': tar(pax([['comment', 'x\n11 size=99']]), file(REGO, { name: 'a.rego' })),
  'an empty pax path': tar(pax([['path', '']]), file(REGO, { name: 'ustar.rego' })),
  'a pax size smaller than the ustar size': tar(pax([['size', '3']]), file(REGO, { name: 'a.rego' })),
  'pax uid abc': tar(pax([['uid', 'abc']]), file(REGO)),
  'pax mtime .5': tar(pax([['mtime', '.5']]), file(REGO)),
  'pax times, signs and fractions': tar(pax([['mtime', '-1.5'], ['atime', '1.'], ['uid', '-1'], ['gid', '+2']]), file(REGO)),
  'GNU sparse pax records': tar(pax([['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.name', 'real.rego'], ['GNU.sparse.realsize', '10']]), file(Buffer.concat([pad(Buffer.from('1\n0\n10\n')), Buffer.from('0123456789')]), { name: 'GNUSparseFile.0/a.rego' })),
  'a base-256 size': tar(file(REGO, { sizeField: b256(REGO.length) })),
  'a base-256 size with a stray bit (0x81)': tar(file(REGO, { sizeField: Buffer.concat([Buffer.from([0x81]), Buffer.alloc(10), Buffer.from([REGO.length])]) })),
  'a negative base-256 size': tar(file(REGO, { sizeField: Buffer.from('fffffffffffffffffffffffe', 'hex') })),
  'a huge octal size': tar(file(REGO, { sizeField: Buffer.from('77777777777\0', 'latin1') })),
  'a devmajor that is not octal': tar(file(REGO, { at: [[329, 'zz\0']] })),
  'a ustar prefix': tar(file(REGO, { name: 'a.rego', prefix: 'dir' })),
  'a prefix under "ustar\\0" with version "\\0\\0"': tar(file(REGO, { name: 'a.rego', prefix: 'dir', magic: 'ustar\0\0\0' })),
  'a prefix under the GNU magic (atime unparsable)': tar(file(REGO, { name: 'a.rego', prefix: 'dir', magic: 'ustar  \0' })),
  'a prefix under the V7 magic': tar(file(REGO, { name: 'a.rego', prefix: 'dir', magic: '\0\0\0\0\0\0\0\0' })),
  'a star header with a short prefix': tar(file(REGO, { name: 'a.rego', prefix: 'dir', trailer: 'tar\0' })),
  'a star header with a 140-byte prefix': tar(file(REGO, { name: 'a.rego', prefix: 'p'.repeat(140), trailer: 'tar\0' })),
  'a NUL inside the ustar name': tar(file(REGO, { name: Buffer.from('a.rego\0evil', 'latin1') })),
  'a name that is not UTF-8': tar(file(REGO, { name: Buffer.from([0x61, 0xff, 0x2e, 0x72]) })),
  'a contiguous file (7)': tar(file(REGO, { type: '7' })),
  'an old-style file (NUL type)': tar(file(REGO, { type: '\0' })),
  'an old-style file named like a directory': tar(file('', { name: 'a/', type: '\0' })),
  'a file named like a directory': tar(file('', { name: 'a/' })),
  'a symlink': tar(file('', { name: 'l', type: '2', at: [[157, 'a.rego']] })),
  'a FIFO': tar(file('', { name: 'f', type: '6' })),
  './a and a': tar(file(REGO, { name: './a.rego' }), file(REGO, { name: 'a.rego' })),
  '/a': tar(file(REGO, { name: '/a.rego' })),
  'a/ (dir) and a (file)': tar(file('', { name: 'a', type: '5' }), file(REGO, { name: 'a' })),
  'NFC and NFD names': tar(file(REGO, { name: 'é.rego' }), file(REGO, { name: 'e\u0301.rego' })),
  'a single zero block, then an entry': Buffer.concat([file(REGO), Buffer.alloc(512), file(REGO, { name: 'b.rego' }), END]),
  'an entry after the end marker': Buffer.concat([tar(file(REGO)), tar(file(REGO, { name: 'b.rego' }))]),
  'no end marker': file(REGO),
  'a truncated entry': Buffer.concat([header({ size: 5000 }, 0), pad(Buffer.from(REGO)), END]),
};

const { go, skip } = goOrSkip();

describe.skipIf(skip !== false)('bundle archives: gatehouse refuses, or reads what Go\'s archive/tar (OPA\'s bundle loader) reads', () => {
  let dir = '';
  const archives: { name: string; bytes: Buffer; gz: boolean }[] = [];
  let goReadings: { error?: string; entries?: { type: string; name: string; data: string }[] }[] = [];

  beforeAll(() => {
    dir = path.dirname(buildGoProgram(go, 'tarreader', GO_READER));
    for (const [name, bytes] of Object.entries(CASES)) archives.push({ name, bytes, gz: false });
    const plain = tar(file(REGO, { name: 'a.rego' }));
    archives.push({ name: 'gzip: two members', bytes: Buffer.concat([gzipSync(plain.subarray(0, 512)), gzipSync(plain.subarray(512))]), gz: true });
    archives.push({ name: 'gzip: trailing garbage', bytes: Buffer.concat([gzipSync(plain), Buffer.from('garbage')]), gz: true });
    archives.push({ name: 'gzip: trailing zeros', bytes: Buffer.concat([gzipSync(plain), Buffer.alloc(64)]), gz: true });
    // GNU tar in every format, sparse files included, and `opa build` output when OPA is installed.
    const src = path.join(dir, 'src');
    mkdirSync(path.join(src, 'd'.repeat(90), 'e'.repeat(90)), { recursive: true });
    writeFileSync(path.join(src, 'd'.repeat(90), 'e'.repeat(90), 'data.json'), '{"deep":true}');
    writeFileSync(path.join(src, 'authz.rego'), 'package envoy.authz\nimport rego.v1\ndefault allow := false\n');
    writeFileSync(path.join(src, 'sparse.json'), '{"a":1}');
    execFileSync('truncate', ['-s', '200K', path.join(src, 'sparse.json')]);
    for (const format of ['gnu', 'oldgnu', 'pax', 'ustar']) {
      archives.push({ name: `GNU tar --format=${format}`, bytes: execFileSync('tar', ['-c', `--format=${format}`, '-C', src, 'authz.rego', ...(format === 'ustar' ? [] : ['d'.repeat(90)])]), gz: false });
      if (format !== 'ustar') archives.push({ name: `GNU tar --sparse --format=${format}`, bytes: execFileSync('tar', ['-c', '--sparse', `--format=${format}`, '-C', src, 'sparse.json']), gz: false });
    }
    const opa = findOpa();
    if (opa) {
      const out = path.join(dir, 'bundle.tar.gz');
      execFileSync(opa, ['build', '-t', 'wasm', '-e', 'envoy/authz/allow', '-o', out, path.join(src, 'authz.rego'), path.join(src, 'd'.repeat(90))], { stdio: 'pipe' });
      archives.push({ name: 'opa build -t wasm', bytes: readFileSync(out), gz: true });
    }
    const out = execFileSync(path.join(dir, 'reader'), { input: JSON.stringify(archives.map((a) => ({ archive: a.bytes.toString('base64'), gz: a.gz }))), maxBuffer: 1 << 28 });
    goReadings = JSON.parse(out.toString('utf8')) as typeof goReadings;
    expect(existsSync(path.join(dir, 'reader'))).toBe(true);
  }, 180_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const read = (a: { bytes: Buffer; gz: boolean }): Map<string, Buffer> | undefined => {
    try {
      return a.gz ? readTarGz(a.bytes, { maxBytes: 64 << 20 }) : readTar(a.bytes);
    } catch {
      return undefined;
    }
  };

  it('every archive gatehouse accepts is read by Go to the same files', () => {
    expect(archives.length).toBeGreaterThan(50);
    const accepted: string[] = [];
    archives.forEach((a, i) => {
      const ours = read(a);
      if (ours === undefined) return;
      accepted.push(a.name);
      const theirs = goReadings[i]!;
      expect(theirs.error, a.name).toBeUndefined();
      const goFiles = theirs.entries!.filter((e) => e.type === '0').map((e) => [cleanPath(Buffer.from(e.name, 'base64').toString('utf8')), e.data]);
      expect([...ours].map(([name, data]) => [name, data.toString('base64')]), a.name).toEqual(goFiles);
      expect(theirs.entries!.every((e) => '05g'.includes(e.type)), a.name).toBe(true);
    });
    // Not vacuous: the ordinary archives are read.
    for (const name of ['a plain file', 'a ustar prefix', 'a star header with a short prefix', 'a base-256 size', 'pax times, signs and fractions', 'a pax size smaller than the ustar size',
      'a global comment then a file', 'a directory with a size (Go: header only; node-tar: size 0)', 'gzip: two members', 'GNU tar --format=gnu', 'GNU tar --format=pax', 'GNU tar --format=ustar', 'GNU tar --format=oldgnu']) {
      expect(accepted, name).toContain(name);
    }
    if (findOpa()) expect(accepted).toContain('opa build -t wasm');
  });

  it('Go reads the refused archives differently (why they are refused)', () => {
    const go = (name: string) => goReadings[archives.findIndex((a) => a.name === name)]!;
    const names = (name: string) => go(name).entries!.filter((e) => e.type === '0').map((e) => Buffer.from(e.name, 'base64').toString('utf8'));
    expect(names('a GNU long name then a pax path')).toEqual(['good.rego']);
    expect(names('two pax headers for one entry')).toEqual(['good.rego']);
    expect(names('a pax path, a global header, the entry')).toEqual(['good.rego']);
    expect(names('a pax path with a newline')).toEqual(['ev\nil.rego']);
    expect(Buffer.from(go('a pax comment hiding a size record after a newline').entries![0]!.data, 'base64').toString()).toBe(REGO);
    expect(names('a prefix under "ustar\\0" with version "\\0\\0"')).toEqual(['dir/a.rego']);
    expect(names('a prefix under the GNU magic (atime unparsable)')).toEqual(['dir/a.rego']);
    expect(names('GNU sparse pax records')).toEqual(['real.rego']);
    expect(go('a contiguous file (7)').entries!.map((e) => e.type)).toEqual(['7']);
    expect(go('pax uid abc').error).toBeDefined();
    expect(go('a devmajor that is not octal').error).toBeDefined();
    for (const name of Object.keys(CASES).filter((n) => /GNU long name then|two pax|global header, the|newline|version|GNU magic|sparse|contiguous|uid abc|devmajor/.test(n))) {
      expect(read(archives.find((a) => a.name === name)!), name).toBeUndefined();
    }
  });
});
