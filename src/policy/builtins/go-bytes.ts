/**
 * Go strings are byte strings; Rego values leave OPA as JSON, where Go's encoding/json writes each
 * byte of invalid UTF-8 as one U+FFFD. Builtins that produce arbitrary bytes (hex.decode,
 * urlquery.decode of `%ff`) use `goBytesToString` to give the string `opa eval` prints. Internally
 * the Go ports work on "byte strings": JS strings with one char (0–255) per byte.
 */

const strict = new TextDecoder('utf-8', { fatal: true });

/** The UTF-8 bytes of a Rego string as a byte string. */
export function toByteString(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/** A byte string back to text, Go-style (see goBytesToString). */
export function fromByteString(bytes: string): string {
  return goBytesToString(Buffer.from(bytes, 'latin1'));
}

/**
 * Bytes as the string Go's encoding/json shows: valid UTF-8 decoded, every byte that does not start
 * a valid sequence (utf8.DecodeRune width 1) replaced by U+FFFD on its own. TextDecoder's replacement
 * differs (one U+FFFD per maximal subpart), hence this loop.
 */
export function goBytesToString(bytes: Uint8Array): string {
  try {
    return strict.decode(bytes);
  } catch {
    // invalid UTF-8: the byte-by-byte path below
  }
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const width = validSequence(bytes, i);
    if (width === 0) {
      out += '\ufffd';
      i++;
    } else {
      out += strict.decode(bytes.subarray(i, i + width));
      i += width;
    }
  }
  return out;
}

/** Width of the valid UTF-8 sequence at i (Go's utf8 accept ranges), or 0. */
function validSequence(b: Uint8Array, i: number): number {
  const c0 = b[i]!;
  if (c0 < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < b.length && b[i + k]! >= lo && b[i + k]! <= hi;
  if (c0 >= 0xc2 && c0 <= 0xdf) return cont(1) ? 2 : 0;
  if (c0 >= 0xe0 && c0 <= 0xef) {
    const [lo, hi] = c0 === 0xe0 ? [0xa0, 0xbf] : c0 === 0xed ? [0x80, 0x9f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c0 >= 0xf0 && c0 <= 0xf4) {
    const [lo, hi] = c0 === 0xf0 ? [0x90, 0xbf] : c0 === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}
