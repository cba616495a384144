/**
 * Reading and writing the tar archives of OPA bundles
 * (https://www.openpolicyagent.org/docs/management-bundles/#bundle-file-format) on node-tar
 * (`tar`): its Parser decodes the ustar headers, checksums, POSIX pax (`x`) records and GNU long
 * names (`L`, `K`); gzip is inflated here by node:zlib, so that the byte limit holds.
 *
 * Strict on top of node-tar, so that the files gatehouse evaluates and verifies are the files any
 * other reader (OPA's Go archive/tar, GNU tar) finds, or the archive is refused (`bundle_invalid`):
 * - only regular files (types `0`, NUL, `7`) and directories (`5`, skipped); links, devices,
 *   FIFOs, sparse and vendor entries are refused;
 * - names: a leading "/" is the bundle root and is stripped; empty, `.` and `..` segments, NUL and
 *   other control characters are refused; a name twice is refused;
 * - headers: every numeric field octal (or GNU base-256), checksums right, a type-`0` entry named
 *   like a directory refused (node-tar reads it as a directory with no data, Go as a file);
 * - pax: a global (`g`) header may not set `path`, `linkpath` or `size` (POSIX applies them to
 *   every entry after it, Go ignores them), an extended header over 1 MiB is refused (Go refuses
 *   it, node-tar would skip it);
 * - framing: the archive is a whole number of 512-byte blocks ending in the end-of-archive
 *   marker (two zero blocks; POSIX ustar); a truncated entry, and a header after one zero block
 *   (Go refuses it, node-tar would read on), are refused; bytes after the marker are ignored;
 * - gzip: inflating past `maxBytes` is refused (a gzip bomb stops at the limit, whatever its
 *   ratio); a gzip stream inside the tar is refused (node-tar would inflate it without a limit).
 */
import { gunzipSync } from 'node:zlib';
import { Header, Parser, type ReadEntry } from 'tar';
import { GatehouseError } from '../errors.js';

const BLOCK = 512;
/** Largest pax or GNU long-name entry: Go's archive/tar limit (maxSpecialFileSize). */
const MAX_META_BYTES = 1 << 20;
const FILE_TYPES = new Set(['0', '\0', '7']);
/** ustar numeric fields: [offset, length, name]. */
const NUMERIC_FIELDS: readonly [number, number, string][] = [
  [100, 8, 'mode'], [108, 8, 'uid'], [116, 8, 'gid'], [124, 12, 'size'], [136, 12, 'mtime'], [148, 8, 'checksum'],
];

export interface TarLimits {
  /** Largest uncompressed archive accepted, in bytes (guards against gzip bombs). */
  maxBytes: number;
}

/**
 * The files of a `.tar.gz` bundle: cleaned name (see cleanPath) → contents.
 * Throws GatehouseError `bundle_invalid` for anything the rules above refuse.
 */
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

/** The files of an uncompressed tar archive, as readTarGz. */
export function readTar(archive: Buffer): Map<string, Buffer> {
  return parseArchive(archive).files;
}

/**
 * "/a/b.rego" and "a/b.rego" → "a/b.rego"; anything with "..", "." or empty segments, NUL or
 * another control character is refused (`bundle_invalid`).
 */
export function cleanPath(name: string): string {
  const trimmed = name.replace(/^\/+/, '').replace(/^\.\//, '');
  const segments = trimmed.split('/');
  if (trimmed === '' || segments.some((s) => s === '' || s === '.' || s === '..') || /[\x00-\x1f\x7f]/.test(trimmed)) {
    throw bad(`unsafe entry name ${JSON.stringify(name)}`);
  }
  return trimmed;
}

/** One ustar entry (header + padded data) for a regular file; names up to 255 bytes (ustar prefix). */
export function tarEntry(name: string, content: Buffer, mtimeSeconds = 0): Buffer {
  const header = new Header({ path: name, mode: 0o644, uid: 0, gid: 0, size: content.length, mtime: new Date(Math.floor(mtimeSeconds) * 1000), type: 'File' });
  if (header.encode()) throw new Error(`tar entry name too long for a ustar header: ${name}`);
  const data = Buffer.alloc(Math.ceil(content.length / BLOCK) * BLOCK);
  content.copy(data);
  return Buffer.concat([header.block!, data]);
}

/** The archive with `entry` appended before its end-of-archive marker; an empty buffer is an empty archive. */
export function appendToTar(archive: Buffer, entry: Buffer): Buffer {
  const end = archive.length === 0 ? 0 : parseArchive(archive).end;
  return Buffer.concat([archive.subarray(0, end), entry, Buffer.alloc(2 * BLOCK)]);
}

/**
 * node-tar's Parser, fed one block at a time so that each event is tied to the block that caused
 * it: an entry's raw header is the block just written. Everything happens synchronously (no
 * decompressor is involved), so the files are complete when the last write returns.
 */
function parseArchive(archive: Buffer): { files: Map<string, Buffer>; end: number } {
  if (archive.length % BLOCK !== 0) throw bad(`truncated tar archive: ${archive.length} bytes is not a whole number of ${BLOCK}-byte blocks`);
  if (archive[0] === 0x1f && archive[1] === 0x8b) throw bad('a gzip stream inside the tar archive');
  /** Regular files in archive order: node-tar writes each one's data as its blocks are written. */
  const contents = new Map<string, { chunks: Buffer[]; size: number }>();
  let failure: GatehouseError | undefined;
  let at = 0;
  let firstZeroBlock: number | undefined;
  let end: number | undefined;
  /** Where the header after the last entry's data is (where extended headers for the next entry start). */
  let nextHeader = 0;
  const fail = (message: string): void => {
    failure ??= bad(message);
  };

  const parser = new Parser({ strict: true, maxMetaEntrySize: MAX_META_BYTES, brotli: false, zstd: false });
  parser.on('error', (error: Error) => {
    const type = String.fromCharCode(archive[at + 156] ?? 0);
    fail(type === '1' || type === '2'
      ? `link entry at byte ${at} (tar type "${type}", ${error.message}); links and devices are not allowed`
      : `bad tar archive at byte ${at}: ${error.message}`);
  });
  parser.on('ignoredEntry', (entry: ReadEntry) => fail(entry.meta
    ? `tar extended header at byte ${at} is over ${MAX_META_BYTES} bytes`
    : `entry ${JSON.stringify(entry.path)} is not a regular file (tar type "${entry.header.typeKey}"); links and devices are not allowed`));
  parser.on('nullBlock', () => {
    firstZeroBlock = at;
  });
  parser.on('eof', () => {
    end = firstZeroBlock;
    if (end !== undefined && end !== nextHeader) fail(`tar extended header at byte ${nextHeader} is not followed by an entry`);
  });
  parser.on('entry', (entry: ReadEntry) => {
    const raw = archive.subarray(at, at + BLOCK);
    const type = String.fromCharCode(raw[156]!);
    const what = `entry ${JSON.stringify(entry.path)}`;
    checkExtendedHeaders(archive, nextHeader, at, fail);
    checkNumericFields(raw, at, fail);
    nextHeader = at + BLOCK + entry.startBlockSize;
    const global = entry.globalExtended;
    if (global && (global.path !== undefined || global.linkpath !== undefined || global.size !== undefined)) {
      fail(`${what} follows a global pax header that sets path, linkpath or size, which readers apply differently`);
    } else if (entry.type === 'Directory' && type !== '5') {
      fail(`${what} is a regular file (tar type "${type}") named like a directory`);
    } else if (entry.type !== 'Directory' && !FILE_TYPES.has(type)) {
      fail(`${what} is not a regular file (tar type "${type}"); links and devices are not allowed`);
    }
    if (failure) return;
    if (entry.type === 'Directory') {
      entry.resume();
      return;
    }
    let clean: string;
    try {
      clean = cleanPath(entry.path);
    } catch (error) {
      failure ??= error as GatehouseError;
      return;
    }
    if (contents.has(clean)) return fail(`duplicate entry "${clean}"`);
    const chunks: Buffer[] = [];
    contents.set(clean, { chunks, size: entry.size });
    entry.on('data', (chunk: Buffer) => chunks.push(chunk));
  });

  for (; at < archive.length && failure === undefined && end === undefined; at += BLOCK) {
    const block = archive.subarray(at, at + BLOCK);
    if (firstZeroBlock !== undefined && firstZeroBlock === at - BLOCK && block.some((b) => b !== 0)) {
      fail(`tar header at byte ${at} follows a single zero block (the end-of-archive marker is two)`);
      break;
    }
    parser.write(block);
  }
  if (failure === undefined && end === undefined) parser.end();
  if (failure) throw failure;
  if (end === undefined) throw bad('truncated tar archive: no end-of-archive marker (two zero blocks)');
  const files = new Map<string, Buffer>();
  for (const [name, { chunks, size }] of contents) {
    const data = Buffer.concat(chunks);
    if (data.length !== size) throw bad(`truncated tar entry "${name}": ${data.length} of ${size} bytes`);
    files.set(name, data);
  }
  return { files, end };
}

/**
 * The blocks node-tar read as extended headers (pax `x`/`g`, GNU `L`/`K`) before the entry at
 * `entryAt`, walked again by their ustar sizes: the walk must land on the entry (the framing is
 * not in doubt), and each pax record must be well formed, as Go's archive/tar requires (node-tar
 * skips a malformed record, so the entry would keep its ustar name where Go refuses the archive).
 */
function checkExtendedHeaders(archive: Buffer, from: number, entryAt: number, fail: (message: string) => void): void {
  let at = from;
  while (at < entryAt) {
    const header = archive.subarray(at, at + BLOCK);
    checkNumericFields(header, at, fail);
    const type = String.fromCharCode(header[156]!);
    const size = parseInt(header.subarray(124, 136).toString('latin1').replace(/[ \0]+/g, '') || '0', 8);
    if (!'xgLK'.includes(type) || !Number.isSafeInteger(size)) return fail(`tar header at byte ${at} is read differently by tar readers`);
    if (type === 'x' || type === 'g') checkPaxRecords(archive.subarray(at + BLOCK, at + BLOCK + size), at, fail);
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  if (at !== entryAt) fail(`tar extended header at byte ${from} does not end where the next entry starts`);
}

/** POSIX pax records: `<length> <key>=<value>\n`, the length in decimal counting the whole record; no NUL in a value. */
function checkPaxRecords(data: Buffer, offset: number, fail: (message: string) => void): void {
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const digits = space === -1 ? '' : data.subarray(at, space).toString('latin1');
    const length = /^[1-9][0-9]{0,7}$/.test(digits) ? Number(digits) : 0;
    const record = data.subarray(space + 1, at + length);
    const eq = record.indexOf(0x3d);
    if (length === 0 || at + length > data.length || data[at + length - 1] !== 0x0a || eq < 1 || record.indexOf(0) !== -1) {
      return fail(`malformed pax record in the tar extended header at byte ${offset}`);
    }
    const key = record.subarray(0, eq).toString('utf8');
    if (key === 'size' && !/^[0-9]+\n$/.test(record.subarray(eq + 1).toString('latin1'))) return fail(`malformed pax size in the tar extended header at byte ${offset}`);
    at += length;
  }
}

/** Go's archive/tar refuses a numeric field that is not octal (or GNU base-256); node-tar's parseInt would read "12x" as 10. */
function checkNumericFields(header: Buffer, offset: number, fail: (message: string) => void): void {
  for (const [start, length, name] of NUMERIC_FIELDS) {
    const field = header.subarray(start, start + length);
    if ((field[0]! & 0x80) !== 0) continue; // base-256
    const text = field.toString('latin1').replace(/^[ \0]+|[ \0]+$/g, '');
    if (text !== '' && !/^[0-7]+$/.test(text)) return fail(`bad tar ${name} field at byte ${offset}`);
  }
}

function bad(message: string): GatehouseError {
  return new GatehouseError('bundle_invalid', message);
}
