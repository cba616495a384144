import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { appendToTar, readTar, readTarGz, tarEntry } from '../../src/policy/tar.js';

/** A minimal ustar entry, built by hand so that tests can make hostile archives. */
function entry(name: string, content: string, type = '0'): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${Buffer.byteLength(content).toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write(type, 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const data = Buffer.alloc(Math.ceil(Buffer.byteLength(content) / 512) * 512);
  data.write(content);
  return Buffer.concat([header, data]);
}
const archive = (...entries: Buffer[]) => Buffer.concat([...entries, Buffer.alloc(1024)]);

describe('bundle archives', () => {
  it('reads regular files and strips the bundle root "/"', () => {
    const files = readTar(archive(entry('/data.json', '{}'), entry('/.manifest', '{"revision":"r1"}'), entry('dir/', '', '5')));
    expect([...files.keys()]).toEqual(['data.json', '.manifest']);
    expect(files.get('.manifest')!.toString()).toBe('{"revision":"r1"}');
  });

  it.each([
    ['a ".." entry', [entry('../etc/passwd', 'x')], 'unsafe entry name'],
    ['a nested ".." entry', [entry('a/../../b', 'x')], 'unsafe entry name'],
    ['a symlink', [entry('link', '', '2')], 'links and devices are not allowed'],
    ['a hard link', [entry('link', '', '1')], 'links and devices are not allowed'],
    ['a duplicate', [entry('/data.json', '{}'), entry('data.json', '{}')], 'duplicate entry'],
  ])('rejects %s', (_name, entries, message) => {
    expect(() => readTar(archive(...entries))).toThrow(message);
  });

  it('rejects a corrupted header checksum', () => {
    const bytes = archive(entry('a', 'x'));
    bytes[0] = 'b'.charCodeAt(0);
    expect(() => readTar(bytes)).toThrow('checksum');
  });

  it('rejects a gzip bomb past the byte limit and non-gzip input', () => {
    const bomb = gzipSync(archive(entry('big', 'x'.repeat(100_000))));
    expect(() => readTarGz(bomb, { maxBytes: 10_000 })).toThrow('inflates past 10000 bytes');
    expect(() => readTarGz(Buffer.from('plain text'), { maxBytes: 10_000 })).toThrow('not a gzip archive');
  });
});

/** A ustar header block with any field set by hand (the checksum is computed unless given). */
function rawHeader(fields: { name: string; size?: number; sizeField?: string; type?: string; linkpath?: string; magic?: string; checksum?: number }): Buffer {
  const header = Buffer.alloc(512);
  header.write(fields.name, 0, 100, 'utf8');
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(fields.sizeField ?? `${(fields.size ?? 0).toString(8).padStart(11, '0')}\0`, 124, 12, 'latin1');
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write(fields.type ?? '0', 156);
  if (fields.linkpath) header.write(fields.linkpath, 157, 100, 'utf8');
  header.write(fields.magic ?? 'ustar\u000000', 257, 'latin1');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${(fields.checksum ?? sum).toString(8).padStart(6, '0')}\0 `, 148);
  return header;
}
const padded = (data: Buffer) => Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
const withData = (header: Buffer, data: string | Buffer) => Buffer.concat([header, padded(Buffer.from(data))]);
/** A pax extended header (`x`, or `g` for global) carrying `records`. */
function pax(records: Record<string, string>, type = 'x'): Buffer {
  const body = Object.entries(records).map(([key, value]) => {
    const line = ` ${key}=${value}\n`;
    let length = Buffer.byteLength(line) + 1;
    while (`${length}${line}`.length !== length) length++;
    return `${length}${line}`;
  }).join('');
  return withData(rawHeader({ name: 'PaxHeader', size: Buffer.byteLength(body), type }), body);
}
/** A ustar entry whose name is split into the prefix field (bytes 345..500) and the name field. */
function prefixed(prefix: string, name: string): Buffer {
  const header = rawHeader({ name, size: 1 });
  header.write(prefix, 345, 155, 'utf8');
  header.write('        ', 148);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return withData(header, 'x');
}
/** A GNU long-name (`L`) entry naming the next entry. */
const gnuLongName = (name: string) => withData(rawHeader({ name: '././@LongLink', size: Buffer.byteLength(name) + 1, type: 'L', magic: 'ustar  \0' }), `${name}\0`);

describe('hostile bundle archives', () => {
  it.each([
    ['a symlink with a target', rawHeader({ name: 'policy.wasm', type: '2', linkpath: '/etc/passwd' }), 'links and devices are not allowed'],
    ['a hard link with a target', rawHeader({ name: 'data.json', type: '1', linkpath: 'other.json' }), 'links and devices are not allowed'],
    ['a character device', rawHeader({ name: 'tty', type: '3' }), 'links and devices are not allowed'],
    ['a block device', rawHeader({ name: 'sda', type: '4' }), 'links and devices are not allowed'],
    ['a FIFO', rawHeader({ name: 'pipe', type: '6' }), 'links and devices are not allowed'],
    ['a GNU dump directory', withData(rawHeader({ name: 'dump/', type: 'D', size: 3 }), 'a\0\0'), 'links and devices are not allowed'],
    ['a GNU sparse file', withData(rawHeader({ name: 'sparse', type: 'S', size: 3 }), 'abc'), 'links and devices are not allowed'],
    ['a vendor type (Solaris ACL)', withData(rawHeader({ name: 'acl', type: 'A', size: 3 }), 'abc'), 'links and devices are not allowed'],
    ['an unknown type', withData(rawHeader({ name: 'data.json', type: 'Z', size: 2 }), '{}'), 'links and devices are not allowed'],
  ])('refuses %s', (_what, hostile, message) => {
    expect(() => readTar(archive(entry('ok.json', '{}'), hostile))).toThrow(message);
  });

  it.each([
    ['".." in a ustar name', entry('a/../../etc/passwd', 'x')],
    ['".." in a pax path', Buffer.concat([pax({ path: '../../etc/cron.d/evil' }), entry('harmless', 'x')])],
    ['".." in a GNU long name', Buffer.concat([gnuLongName(`${'a/'.repeat(60)}../../../evil`), entry('harmless', 'x')])],
    ['".." in a ustar prefix', prefixed('../..', 'evil')],
    ['an empty segment', entry('a//b', 'x')],
    ['a "." segment', entry('a/./b', 'x')],
    ['a name that is only the root', entry('/', 'x')],
    ['a NUL then more bytes in a pax path', Buffer.concat([pax({ path: 'data.json\u0000\nx' }), entry('harmless', 'x')])],
    ['a control character', entry('data\u001b.json', 'x')],
  ])('refuses %s', (_what, hostile) => {
    expect(() => readTar(archive(hostile))).toThrow(/unsafe entry name|named like a directory|malformed pax record/);
  });

  it('strips the bundle root from absolute names and keeps them inside the bundle', () => {
    const files = readTar(archive(entry('/etc/passwd', 'root'), entry('///data.json', '{}'), entry('./.manifest', '{}')));
    expect([...files.keys()]).toEqual(['etc/passwd', 'data.json', '.manifest']);
  });

  it.each([
    ['the same name twice', [entry('data.json', '1'), entry('data.json', '2')]],
    ['the same name with and without the root', [entry('/data.json', '1'), entry('data.json', '2')]],
    ['a pax path that repeats a ustar name', [entry('data.json', '1'), pax({ path: '/data.json' }), entry('other', '2')]],
    ['a GNU long name that repeats a ustar name', [entry('data.json', '1'), gnuLongName('data.json'), entry('other', '2')]],
  ])('refuses %s', (_what, entries) => {
    expect(() => readTar(archive(...entries))).toThrow('duplicate entry "data.json"');
  });

  it('reads pax and GNU long names (past the 100-byte ustar name field)', () => {
    const long = `${'d'.repeat(90)}/${'e'.repeat(90)}/file.json`;
    const files = readTar(archive(pax({ path: `/${long}` }), entry('short-pax', '1'), gnuLongName(`/${long}2`), entry('short-gnu', '2')));
    expect(Object.fromEntries([...files].map(([name, data]) => [name, data.toString()]))).toEqual({ [long]: '1', [`${long}2`]: '2' });
  });

  it('reads the pax size over the ustar size, as POSIX pax and Go do (the old reader ignored it)', () => {
    // The ustar size says 0; the pax record says 5: the 5 bytes are the file, the next header follows them.
    const files = readTar(archive(pax({ size: '5' }), withData(rawHeader({ name: 'a.json', size: 0 }), '"abc"'), entry('b.json', '1')));
    expect(files.get('a.json')!.toString()).toBe('"abc"');
    expect(files.get('b.json')!.toString()).toBe('1');
  });

  it('does not let a pax header change the framing of the long-name entry after it (node-tar tar-smuggling fix)', () => {
    // pax size=0 must apply to the file, not to the GNU long-name entry between them.
    const files = readTar(archive(pax({ size: '2' }), gnuLongName('long-name.json'), withData(rawHeader({ name: 'x', size: 0 }), '{}')));
    expect([...files].map(([n, d]) => [n, d.toString()])).toEqual([['long-name.json', '{}']]);
  });

  it.each([
    ['path', { path: 'data.json' }],
    ['size', { size: '0' }],
    ['linkpath', { linkpath: 'x' }],
  ])('refuses a global pax header that sets %s (POSIX applies it to every entry, Go ignores it)', (_key, records) => {
    expect(() => readTar(archive(pax(records, 'g'), entry('a.json', '{}')))).toThrow('global pax header');
  });

  it('accepts a global pax header with only a comment (git archive writes one)', () => {
    expect([...readTar(archive(pax({ comment: 'abc123' }, 'g'), entry('a.json', '{}'))).keys()]).toEqual(['a.json']);
  });

  it('refuses a pax header over 1 MiB (Go refuses it; node-tar alone would skip it and use the ustar name)', () => {
    const huge = pax({ path: 'p'.repeat(1 << 20) });
    expect(() => readTar(archive(huge, entry('data.json', '{}')))).toThrow('over 1048576 bytes');
  });

  it('refuses a regular-file entry named like a directory (node-tar would skip its data, Go reads it)', () => {
    const smuggled = withData(rawHeader({ name: 'dir/', size: 1024 }), Buffer.concat([entry('policy.wasm', 'evil'), Buffer.alloc(0)]));
    expect(() => readTar(archive(smuggled))).toThrow('named like a directory');
  });

  it.each([
    ['a size field with a non-octal digit', rawHeader({ name: 'a', sizeField: '0000000001x\0' })],
    ['a size field with an 8', rawHeader({ name: 'a', sizeField: '00000000018\0' })],
  ])('refuses %s (node-tar would read a number, Go refuses)', (_what, header) => {
    expect(() => readTar(archive(withData(header, 'x')))).toThrow('bad tar size field');
  });

  it('refuses a bad checksum', () => {
    expect(() => readTar(archive(withData(rawHeader({ name: 'a', size: 1, checksum: 1234 }), 'x')))).toThrow('checksum');
  });

  it.each([
    ['cut inside an entry', archive(entry('a.json', 'x'.repeat(2000))).subarray(0, 1024)],
    ['cut inside a block', archive(entry('a.json', '{}')).subarray(0, 700)],
    ['without an end-of-archive marker', entry('a.json', '{}')],
    ['with one zero block only', Buffer.concat([entry('a.json', '{}'), Buffer.alloc(512)])],
  ])('refuses an archive %s', (_what, bytes) => {
    expect(() => readTar(bytes)).toThrow(/truncated/i);
  });

  it('refuses an entry hidden after a single zero block (Go refuses it; node-tar alone would read it)', () => {
    const hidden = Buffer.concat([entry('a.json', '{}'), Buffer.alloc(512), entry('policy.wasm', 'evil'), Buffer.alloc(1024)]);
    expect(() => readTar(hidden)).toThrow('follows a single zero block');
  });

  it('ignores bytes after the end-of-archive marker, as Go does', () => {
    const files = readTar(Buffer.concat([archive(entry('a.json', '{}')), entry('after.json', 'x')]));
    expect([...files.keys()]).toEqual(['a.json']);
  });

  it('reads an empty archive as no files, and refuses plain text', () => {
    expect(readTar(Buffer.alloc(1024)).size).toBe(0);
    expect(() => readTar(Buffer.from('x'.repeat(1024)))).toThrow(/checksum|bad tar/);
  });

  it.each([
    ['a record whose length is wrong', '30 path=data.json\n'],
    ['a record without "="', '12 pathdata\n'],
    ['a record not ended by a newline', '15 path=data.jso'],
    ['a non-decimal size', '12 size=1x\n'],
  ])('refuses a pax header with %s (node-tar skips it, Go refuses)', (_what, body) => {
    const header = withData(rawHeader({ name: 'PaxHeader', size: Buffer.byteLength(body), type: 'x' }), body);
    expect(() => readTar(archive(header, entry('harmless', 'x')))).toThrow(/malformed pax/);
  });

  it('refuses a pax header with no entry after it', () => {
    expect(() => readTar(archive(entry('a.json', '{}'), pax({ path: 'b.json' })))).toThrow('not followed by an entry');
  });

  it('stops a gzip bomb at the byte limit, whatever its ratio, and refuses truncated and nested gzip', () => {
    // 64 MiB of zeros inside a tar entry compresses to about 64 KiB (ratio ~1000).
    const bomb = gzipSync(archive(entry('big', '')), { level: 9 });
    const zeros = gzipSync(Buffer.alloc(64 << 20), { level: 9 });
    expect(zeros.length).toBeLessThan(128 << 10);
    expect(() => readTarGz(zeros, { maxBytes: 1 << 20 })).toThrow(`inflates past ${1 << 20} bytes`);
    expect(() => readTarGz(bomb.subarray(0, bomb.length - 10), { maxBytes: 1 << 20 })).toThrow('not a gzip archive');
    const nested = gzipSync(Buffer.concat([gzipSync(archive(entry('a.json', '{}'))), Buffer.alloc(1024)]).subarray(0, 1024));
    expect(() => readTarGz(nested, { maxBytes: 1 << 20 })).toThrow('gzip stream inside');
  });
});

describe('archives written by gatehouse and by GNU tar', () => {
  it('round-trips tarEntry and appendToTar, names up to 255 bytes through the ustar prefix', () => {
    const long = `/${'p'.repeat(120)}/${'n'.repeat(90)}.json`;
    let bytes = appendToTar(Buffer.alloc(0), tarEntry('/data.json', Buffer.from('{}')));
    bytes = appendToTar(bytes, tarEntry(long, Buffer.from('[1]')));
    expect(bytes.length % 512).toBe(0);
    const files = readTar(bytes);
    expect([...files].map(([n, d]) => [n, d.toString()])).toEqual([['data.json', '{}'], [long.slice(1), '[1]']]);
    expect(() => tarEntry(`/${'x'.repeat(300)}`, Buffer.alloc(0))).toThrow('too long');
  });

  it.each(['gnu', 'pax', 'ustar'])('reads a --format=%s archive from GNU tar, long names included, and refuses its symlinks', (format) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-tar-'));
    try {
      const deep = path.join('a'.repeat(80), 'b'.repeat(80));
      mkdirSync(path.join(dir, deep), { recursive: true });
      writeFileSync(path.join(dir, deep, 'data.json'), '{"deep":true}');
      writeFileSync(path.join(dir, 'policy.wasm'), 'wasm');
      const tarred = execFileSync('tar', ['-c', `--format=${format}`, '-C', dir, '.']);
      const files = readTar(tarred);
      expect(files.get(`${deep}/data.json`)?.toString()).toBe('{"deep":true}');
      expect(files.get('policy.wasm')?.toString()).toBe('wasm');
      symlinkSync('/etc/passwd', path.join(dir, 'link'));
      expect(() => readTar(execFileSync('tar', ['-c', `--format=${format}`, '-C', dir, '.']))).toThrow('links and devices are not allowed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('file contents', () => {
  it('reads empty files, files of exactly one block and files spanning blocks', () => {
    const big = 'z'.repeat(512 * 3 + 7);
    const files = readTar(archive(entry('empty', ''), entry('one', 'o'.repeat(512)), entry('big', big)));
    expect([...files].map(([n, d]) => [n, d.length])).toEqual([['empty', 0], ['one', 512], ['big', big.length]]);
    expect(files.get('big')!.toString()).toBe(big);
  });
});

/** `header` with `bytes` written at `offset` and its checksum recomputed. */
function patched(header: Buffer, offset: number, bytes: string): Buffer {
  const out = Buffer.from(header);
  out.write(bytes, offset, 'latin1');
  out.write('        ', 148);
  let sum = 0;
  for (const byte of out) sum += byte;
  out.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return out;
}

describe('archives Go\'s archive/tar (OPA\'s bundle reader) reads differently from node-tar are refused (review)', () => {
  it.each([
    // Go: the GNU long name wins whatever the order; node-tar: the later of the two.
    ['a GNU long name then a pax path', [gnuLongName('good.json'), pax({ path: 'evil.json' }), entry('ustar.json', '{}')], 'is named "good.json" by Go'],
    // Go keeps only the last pax header; node-tar merges them, keeping the first one's path.
    ['two pax headers for one entry', [pax({ path: 'evil.json' }), pax({ comment: 'x' }), entry('good.json', '{}')], '2 pax extended headers'],
    // Go returns the global header as an entry and forgets the x/L before it; node-tar keeps them.
    ['a pax path, then a global header, then the entry', [pax({ path: 'evil.json' }), pax({ comment: 'x' }, 'g'), entry('good.json', '{}')], 'global header'],
    ['a GNU long name, then a global header, then the entry', [gnuLongName('evil.json'), pax({ comment: 'x' }, 'g'), entry('good.json', '{}')], 'global header'],
    // node-tar splits pax records on newlines, drops this one and keeps the ustar name; Go reads the path.
    ['a pax path holding a newline', [pax({ path: 'ev\nil.json' }), entry('good.json', '{}')], 'holds a newline'],
    // node-tar reads "11 size=99" inside the comment as a record: the file is 99 bytes (its own and
    // the padding) for node-tar, 2 for Go.
    ['a pax comment hiding a size record after a newline', [pax({ comment: 'x\n11 size=99' }), entry('a.json', '{}')], 'holds a newline'],
    // Go's mergePAX refuses the archive; node-tar reads on.
    ['a pax uid that is not a number', [pax({ uid: 'abc' }), entry('a.json', '{}')], 'malformed pax uid'],
    ['a pax gid beyond int64', [pax({ gid: '99999999999999999999' }), entry('a.json', '{}')], 'malformed pax gid'],
    ['a pax mtime without seconds', [pax({ mtime: '.5' }), entry('a.json', '{}')], 'malformed pax mtime'],
    // Go expands a PAX sparse file (and takes GNU.sparse.name as its name); node-tar reads the raw map.
    ['GNU sparse pax records', [pax({ 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0', 'GNU.sparse.name': 'real.json', 'GNU.sparse.realsize': '2' }), entry('GNUSparseFile.0/a.json', '1\n0\n2\n')], 'sparse files are not allowed'],
    // Go reads the prefix field of any "ustar\0" magic; node-tar only of "ustar\000".
    ['a ustar prefix under the magic "ustar\\0" with another version', [withData(patched(patched(rawHeader({ name: 'a.json', size: 2 }), 345, 'dir'), 257, 'ustar\0\0\0'), '{}')], 'is named "dir/a.json" by Go'],
    // A GNU header whose atime does not parse: Go falls back to reading the bytes as a prefix.
    ['a GNU header with a prefix where its atime is', [withData(patched(rawHeader({ name: 'a.json', size: 2, magic: 'ustar  \0' }), 345, 'dir'), '{}')], 'bad tar atime field'],
    // star ("tar\0" at 508): Go reads a 131-byte prefix and parses atime at 476; node-tar a 155-byte prefix.
    ['a star header with a 140-byte prefix', [withData(patched(patched(rawHeader({ name: 'a.json', size: 2 }), 345, 'p'.repeat(140)), 508, 'tar\0'), '{}')], 'bad tar atime field'],
    ['a devmajor field that is not octal', [withData(patched(rawHeader({ name: 'a.json', size: 2 }), 329, 'zz\0'), '{}')], 'bad tar devmajor field'],
    // OPA's loader takes only tar.TypeReg ('0', and NUL which Go turns into it): it skips a contiguous file.
    ['a contiguous file (type 7)', [entry('policy.rego', 'package x', '7')], 'not a regular file (tar type "7")'],
    // Go keeps the raw bytes, node-tar decodes U+FFFD: the names differ.
    ['a name that is not UTF-8', [withData(patched(rawHeader({ name: 'x', size: 2 }), 0, 'a\xff.json\0'), '{}')], 'by Go'],
  ])('refuses %s', (_what, entries, message) => {
    expect(() => readTar(archive(...entries))).toThrow(message);
  });

  it('still reads what Go reads the same: pax times with fractions and signs, negative ids, a star prefix, a valid GNU atime', () => {
    const files = readTar(archive(
      pax({ mtime: '1700000000.123456789', atime: '-1.5', uid: '-1', gid: '+7' }), entry('a.json', '1'),
      withData(patched(patched(rawHeader({ name: 'b.json', size: 1 }), 345, 'dir'), 508, 'tar\0'), '2'),
      withData(patched(rawHeader({ name: 'c.json', size: 1, magic: 'ustar  \0' }), 345, '00000000000\0'), '3'),
    ));
    expect([...files].map(([n, d]) => [n, d.toString()])).toEqual([['a.json', '1'], ['dir/b.json', '2'], ['c.json', '3']]);
  });

  it('refuses a GNU tar --sparse --format=pax archive (Go expands it under its real name, node-tar reads the map)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-tar-'));
    try {
      const file = path.join(dir, 'data.json');
      writeFileSync(file, '{"a":1}');
      execFileSync('truncate', ['-s', '1M', file]);
      const tarred = execFileSync('tar', ['-c', '--sparse', '--format=pax', '-C', dir, 'data.json']);
      expect(() => readTar(tarred)).toThrow('sparse files are not allowed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
