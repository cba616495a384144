/**
 * A strict reader for gzip-compressed tar archives (OPA bundles: https://www.openpolicyagent.org/docs/management-bundles/#bundle-file-format).
 * Only regular files and directories are accepted; links, devices, `..` segments, absolute paths
 * after the bundle root, duplicate entries and archives that inflate past a byte limit are errors.
 * OPA writes entry names with a leading "/", which is the bundle root and is stripped.
 */
import { gunzipSync } from 'node:zlib';
import { GatehouseError } from '../errors.js';

const BLOCK = 512;

export interface TarLimits {
  /** Largest uncompressed archive accepted (guards against gzip bombs). */
  maxBytes: number;
}

export function readTarGz(compressed: Buffer, limits: TarLimits): Map<string, Buffer> {
  let archive: Buffer;
  try {
    archive = gunzipSync(compressed, { maxOutputLength: limits.maxBytes });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') throw bad(`bundle inflates past ${limits.maxBytes} bytes`);
    throw bad(`not a gzip archive: ${(error as Error).message}`);
  }
  return readTar(archive);
}

export function readTar(archive: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let offset = 0;
  let longName: string | undefined;
  let paxPath: string | undefined;
  while (offset + BLOCK <= archive.length) {
    const header = archive.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) break; // end-of-archive marker
    verifyChecksum(header, offset);
    const size = octal(header.subarray(124, 136), 'size');
    const type = String.fromCharCode(header[156] ?? 0);
    const dataStart = offset + BLOCK;
    const dataEnd = dataStart + size;
    if (dataEnd > archive.length) throw bad('truncated tar entry');
    const data = archive.subarray(dataStart, dataEnd);
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;

    if (type === 'L') {
      longName = cString(data);
      continue;
    }
    if (type === 'x') {
      paxPath = paxRecord(data, 'path');
      continue;
    }
    if (type === 'g') continue;
    const name = paxPath ?? longName ?? ustarName(header);
    paxPath = undefined;
    longName = undefined;
    if (type === '5') continue;
    if (type !== '0' && type !== '\0' && type !== '7') {
      throw bad(`entry "${name}" is not a regular file (tar type "${type}"); links and devices are not allowed`);
    }
    const clean = cleanPath(name);
    if (files.has(clean)) throw bad(`duplicate entry "${clean}"`);
    files.set(clean, Buffer.from(data));
  }
  return files;
}

/** "/a/b.rego" and "a/b.rego" → "a/b.rego"; anything with "..", "." or empty segments is refused. */
export function cleanPath(name: string): string {
  const trimmed = name.replace(/^\/+/, '').replace(/^\.\//, '');
  const segments = trimmed.split('/');
  if (trimmed === '' || segments.some((s) => s === '' || s === '.' || s === '..') || trimmed.includes('\0')) {
    throw bad(`unsafe entry name ${JSON.stringify(name)}`);
  }
  return trimmed;
}

function ustarName(header: Buffer): string {
  const name = cString(header.subarray(0, 100));
  const magic = header.subarray(257, 262).toString('latin1');
  const prefix = magic === 'ustar' ? cString(header.subarray(345, 500)) : '';
  return prefix ? `${prefix}/${name}` : name;
}

function verifyChecksum(header: Buffer, offset: number): void {
  const expected = octal(header.subarray(148, 156), 'checksum');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  if (sum !== expected) throw bad(`bad tar header checksum at byte ${offset}`);
}

function octal(field: Buffer, what: string): number {
  const text = cString(field).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw bad(`bad tar ${what} field`);
  return parseInt(text, 8);
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end === -1 ? bytes.length : end).toString('utf8');
}

function paxRecord(data: Buffer, key: string): string | undefined {
  // Records are "<length> <key>=<value>\n".
  let value: string | undefined;
  for (const line of data.toString('utf8').split('\n')) {
    const space = line.indexOf(' ');
    const eq = line.indexOf('=');
    if (space !== -1 && eq > space && line.slice(space + 1, eq) === key) value = line.slice(eq + 1);
  }
  return value;
}

function bad(message: string): GatehouseError {
  return new GatehouseError('bundle_invalid', message);
}

/** One ustar entry (header + padded data) for a regular file. */
export function tarEntry(name: string, content: Buffer, mtimeSeconds = 0): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar entry name too long: ${name}`);
  const header = Buffer.alloc(BLOCK);
  header.write(name, 0, 100, 'utf8');
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write(`${Math.floor(mtimeSeconds).toString(8).padStart(11, '0')}\0`, 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const data = Buffer.alloc(Math.ceil(content.length / BLOCK) * BLOCK);
  content.copy(data);
  return Buffer.concat([header, data]);
}

/** The archive with `entry` appended before its end-of-archive marker. */
export function appendToTar(archive: Buffer, entry: Buffer): Buffer {
  let offset = 0;
  while (offset + BLOCK <= archive.length) {
    const header = archive.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) break;
    const size = octal(header.subarray(124, 136), 'size');
    offset += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  return Buffer.concat([archive.subarray(0, offset), entry, Buffer.alloc(2 * BLOCK)]);
}
