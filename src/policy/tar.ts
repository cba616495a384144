/**
 * Reading and writing the tar archives of OPA bundles
 * (https://www.openpolicyagent.org/docs/management-bundles/#bundle-file-format) on node-tar
 * (`tar`): its Parser decodes the ustar headers, checksums, POSIX pax (`x`) records and GNU long
 * names (`L`, `K`); gzip is inflated here by node:zlib, so that the byte limit holds.
 *
 * Strict on top of node-tar, so that the files gatehouse evaluates and verifies are the files any
 * other reader (OPA's Go archive/tar, GNU tar) finds, or the archive is refused (`bundle_invalid`):
 * - only regular files (types `0`, NUL) and directories (`5`, skipped); links, devices, FIFOs,
 *   contiguous files (`7`: OPA's loader skips them, it takes only `0`), sparse and vendor entries
 *   are refused;
 * - names: a leading "/" is the bundle root and is stripped; empty, `.` and `..` segments, NUL and
 *   other control characters are refused; a name twice is refused;
 * - headers: every numeric field Go parses (size, mode, uid, gid, mtime, checksum; devmajor and
 *   devminor past V7; the GNU and star atime/ctime) octal or base-256 as Go reads it, checksums
 *   right, a type-`0` entry named like a directory refused (node-tar reads it as a directory with
 *   no data, Go as a file);
 * - names: each entry's name as Go's archive/tar computes it (GNU long name over pax `path` over
 *   the ustar name with the prefix its magic implies; cut at NUL; valid UTF-8) must be node-tar's,
 *   so an archive that is read under two names is refused;
 * - pax: a global (`g`) header may not set `path`, `linkpath` or `size` (POSIX applies them to
 *   every entry after it, Go ignores them), an extended header over 1 MiB is refused (Go refuses
 *   it, node-tar would skip it); one `x` header per entry (Go keeps the last, node-tar merges
 *   them); no `g` header between an entry and its `x`/`L`/`K` headers (Go drops them there,
 *   node-tar keeps them); `uid`, `gid`, `atime`, `mtime`, `ctime` must parse as Go parses them
 *   (Go refuses the archive otherwise); `GNU.sparse.*` records are refused (Go expands the sparse
 *   file, node-tar reads its raw map), and so is a newline inside a value (node-tar splits records
 *   on newlines, so `comment=x\n11 size=99` would set the size for node-tar only);
 * - framing: the archive is a whole number of 512-byte blocks ending in the end-of-archive
 *   marker (two zero blocks; POSIX ustar); a truncated entry, and a header after one zero block
 *   (Go refuses it, node-tar would read on), are refused; bytes after the marker are ignored;
 * - gzip: inflating past `maxBytes` is refused (a gzip bomb stops at the limit, whatever its
 *   ratio); a gzip stream inside the tar is refused (node-tar would inflate it without a limit).
 */
import { isUtf8 } from 'node:buffer';
import { gunzipSync } from 'node:zlib';
import { Header, Parser, type ReadEntry } from 'tar';
import { GatehouseError } from '../errors.js';

const BLOCK = 512;
/** Largest pax or GNU long-name entry: Go's archive/tar limit (maxSpecialFileSize). */
const MAX_META_BYTES = 1 << 20;
const FILE_TYPES = new Set(['0', '\0']);
/** ustar numeric fields: [offset, length, name]. */
const NUMERIC_FIELDS: readonly [number, number, string][] = [
  [100, 8, 'mode'], [108, 8, 'uid'], [116, 8, 'gid'], [124, 12, 'size'], [136, 12, 'mtime'], [148, 8, 'checksum'],
];
/** Fields Go's archive/tar also parses past V7, by the header's format. */
const DEVICE_FIELDS: readonly [number, number, string][] = [[329, 8, 'devmajor'], [337, 8, 'devminor']];
const STAR_TIME_FIELDS: readonly [number, number, string][] = [[476, 12, 'atime'], [488, 12, 'ctime']];
const GNU_TIME_FIELDS: readonly [number, number, string][] = [[345, 12, 'atime'], [357, 12, 'ctime']];

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
    const go = checkExtendedHeaders(archive, nextHeader, at, fail);
    const goName = go.name ?? ustarName(raw);
    checkNumericFields(raw, at, fail);
    nextHeader = at + BLOCK + entry.startBlockSize;
    if (!isUtf8(goName) || !goName.equals(Buffer.from(entry.path, 'utf8'))) {
      fail(`${what} at byte ${at} is named ${JSON.stringify(goName.toString('utf8'))} by Go's archive/tar (OPA's bundle reader)`);
    }
    const global = entry.globalExtended;
    if (global && (global.path !== undefined || global.linkpath !== undefined || global.size !== undefined)) {
      fail(`${what} follows a global pax header that sets path, linkpath or size, which readers apply differently`);
    } else if (entry.type === 'Directory' && type !== '5') {
      fail(`${what} is a regular file (tar type "${type}") named like a directory`);
    } else if (entry.type !== 'Directory' && !FILE_TYPES.has(type)) {
      fail(`${what} is not a regular file (tar type "${type}"); links and devices are not allowed`);
    }
    // The size Go frames the entry by (pax size, else the ustar field) must be node-tar's.
    if (entry.type !== 'Directory' && (go.size ?? ustarSize(raw)) !== entry.size) {
      fail(`${what} at byte ${at} is ${go.size ?? ustarSize(raw)} bytes long for Go's archive/tar, ${entry.size} for node-tar`);
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
 * Returns the entry's name and size as Go's archive/tar sets them from these headers (GNU long
 * name, else pax `path`; pax `size`), each undefined when they set none.
 */
function checkExtendedHeaders(archive: Buffer, from: number, entryAt: number, fail: (message: string) => void): { name?: Buffer; size?: number } {
  let at = from;
  let pax: { path?: Buffer; size?: number } = {};
  let longName: Buffer | undefined;
  let pending = 0;
  let extended = 0;
  while (at < entryAt) {
    const header = archive.subarray(at, at + BLOCK);
    checkNumericFields(header, at, fail);
    const type = String.fromCharCode(header[156]!);
    const size = parseInt(header.subarray(124, 136).toString('latin1').replace(/[ \0]+/g, '') || '0', 8);
    if (!'xgLK'.includes(type) || !Number.isSafeInteger(size)) {
      fail(`tar header at byte ${at} is read differently by tar readers`);
      return {};
    }
    const data = archive.subarray(at + BLOCK, at + BLOCK + size);
    if (type === 'g') {
      // Go returns a global header as an entry of its own, dropping the x/L/K headers before it.
      if (pending > 0) fail(`tar global header at byte ${at} follows extended headers for the next entry, which readers keep or drop`);
      checkPaxRecords(data, at, true, fail);
    } else if (type === 'x') {
      if (++extended > 1) fail(`tar entry at byte ${entryAt} has ${extended} pax extended headers (Go keeps the last, node-tar merges them)`);
      pax = checkPaxRecords(data, at, false, fail);
    } else if (type === 'L') {
      longName = cString(data);
    }
    if (type !== 'g') pending++;
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  if (at !== entryAt) fail(`tar extended header at byte ${from} does not end where the next entry starts`);
  return { name: longName !== undefined && longName.length > 0 ? longName : pax.path, size: pax.size };
}

/**
 * POSIX pax records: `<length> <key>=<value>\n`, the length in decimal counting the whole record;
 * no NUL in a value. Returns the last non-empty `path` and `size` (Go keeps the ustar field for an
 * empty one).
 */
function checkPaxRecords(data: Buffer, offset: number, global: boolean, fail: (message: string) => void): { path?: Buffer; size?: number } {
  let at = 0;
  const found: { path?: Buffer; size?: number } = {};
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const digits = space === -1 ? '' : data.subarray(at, space).toString('latin1');
    const length = /^[1-9][0-9]{0,7}$/.test(digits) ? Number(digits) : 0;
    const record = data.subarray(space + 1, at + length);
    const eq = record.indexOf(0x3d);
    if (length === 0 || at + length > data.length || data[at + length - 1] !== 0x0a || eq < 1 || record.indexOf(0) !== -1) {
      fail(`malformed pax record in the tar extended header at byte ${offset}`);
      return found;
    }
    const key = record.subarray(0, eq).toString('utf8');
    const value = record.subarray(eq + 1, record.length - 1);
    const text = value.toString('latin1');
    // node-tar splits pax records on newlines: a value holding "\n<length> size=..." would be read
    // by node-tar as a record of its own, by Go as part of the value.
    if (value.includes(0x0a)) fail(`pax record ${JSON.stringify(key)} in the tar extended header at byte ${offset} holds a newline, which tar readers split differently`);
    if (key === 'size' && !/^[0-9]+$/.test(text)) fail(`malformed pax size in the tar extended header at byte ${offset}`);
    if (key.startsWith('GNU.sparse.')) fail(`pax record ${JSON.stringify(key)} in the tar extended header at byte ${offset}: sparse files are not allowed`);
    // Go's mergePAX refuses the archive when these do not parse (empty values keep the ustar field).
    if (!global && text !== '' && ((PAX_INTEGERS.has(key) && !isInt64(text)) || (PAX_TIMES.has(key) && !isPaxTime(text)))) {
      fail(`malformed pax ${key} ${JSON.stringify(text.slice(0, 40))} in the tar extended header at byte ${offset}`);
    }
    if (key === 'path' && value.length > 0) found.path = value;
    if (key === 'size' && value.length > 0) found.size = Number(text);
    at += length;
  }
  return found;
}

const PAX_INTEGERS = new Set(['uid', 'gid', 'size']);
const PAX_TIMES = new Set(['atime', 'mtime', 'ctime']);
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Go's strconv.ParseInt(text, 10, 64). */
function isInt64(text: string): boolean {
  if (!/^[+-]?[0-9]+$/.test(text)) return false;
  const value = BigInt(text.replace(/^\+/, ''));
  return value >= INT64_MIN && value <= INT64_MAX;
}

/** Go's archive/tar parsePAXTime: seconds as ParseInt, then optionally "." and digits. */
function isPaxTime(text: string): boolean {
  const dot = text.indexOf('.');
  if (dot === -1) return isInt64(text);
  return isInt64(text.slice(0, dot)) && /^[0-9]*$/.test(text.slice(dot + 1));
}

/** The bytes before the first NUL (Go's parser.parseString). */
function cString(field: Buffer): Buffer {
  const nul = field.indexOf(0);
  return nul === -1 ? field : field.subarray(0, nul);
}

/**
 * An entry's name from its own header as Go's archive/tar reads it: the name field, after the
 * prefix field when the magic is ustar's ("ustar\0", any version; 131 bytes for star, whose
 * header ends in "tar\0"). A GNU ("ustar  \0") or V7 header has no prefix (checkNumericFields
 * refuses the GNU atime/ctime Go would fall back to reading as one).
 */
function ustarName(header: Buffer): Buffer {
  const name = cString(header.subarray(0, 100));
  const magic = header.subarray(257, 263).toString('latin1');
  if (magic !== 'ustar\0') return name;
  const star = header.subarray(508, 512).toString('latin1') === 'tar\0';
  const prefix = cString(header.subarray(345, star ? 476 : 500));
  return prefix.length === 0 ? name : Buffer.concat([prefix, Buffer.from('/'), name]);
}

/** The ustar size field as Go's parser.parseNumeric reads it (checkNumericFields has checked it). */
function ustarSize(header: Buffer): number {
  const field = header.subarray(124, 136);
  if ((field[0]! & 0x80) === 0) return parseInt(field.toString('latin1').replace(/^[ \0]+|[ \0]+$/g, '') || '0', 8);
  const negative = (field[0]! & 0x40) !== 0;
  let x = 0n;
  for (let i = 0; i < field.length; i++) x = (x << 8n) | BigInt((negative ? field[i]! ^ 0xff : field[i]!) & (i === 0 ? 0x7f : 0xff));
  return Number(negative ? -x - 1n : x);
}

/**
 * Go's archive/tar refuses a numeric field that is not octal (or base-256) and node-tar's
 * parseInt would read "12x" as 10: the fields Go parses for the header's format are checked.
 */
function checkNumericFields(header: Buffer, offset: number, fail: (message: string) => void): void {
  const magic = header.subarray(257, 263).toString('latin1');
  const gnu = magic === 'ustar ' && header.subarray(263, 265).toString('latin1') === ' \0';
  const star = magic === 'ustar\0' && header.subarray(508, 512).toString('latin1') === 'tar\0';
  const fields = [...NUMERIC_FIELDS];
  if (magic === 'ustar\0' || gnu) fields.push(...DEVICE_FIELDS);
  if (star) fields.push(...STAR_TIME_FIELDS);
  // GNU: Go parses atime/ctime when their first byte is not NUL, and reads them as a prefix if they do not parse.
  if (gnu) fields.push(...GNU_TIME_FIELDS.filter(([start]) => header[start] !== 0));
  for (const [start, length, name] of fields) {
    if (!isGoNumeric(header.subarray(start, start + length))) return fail(`bad tar ${name} field at byte ${offset}`);
  }
}

/** Go's parser.parseNumeric without error: base-256 within int64, or octal (stricter: no NUL inside). */
function isGoNumeric(field: Buffer): boolean {
  if ((field[0]! & 0x80) !== 0) {
    const inv = (field[0]! & 0x40) !== 0 ? 0xff : 0;
    let x = 0n;
    for (let i = 0; i < field.length; i++) {
      let c = field[i]! ^ inv;
      if (i === 0) c &= 0x7f;
      if (x >> 56n > 0n) return false;
      x = (x << 8n) | BigInt(c);
    }
    return x >> 63n === 0n;
  }
  const text = field.toString('latin1').replace(/^[ \0]+|[ \0]+$/g, '');
  return text === '' || (/^[0-7]+$/.test(text) && BigInt(`0o${text}`) < 2n ** 64n);
}

function bad(message: string): GatehouseError {
  return new GatehouseError('bundle_invalid', message);
}
