import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readTar, readTarGz } from '../../src/policy/tar.js';

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
