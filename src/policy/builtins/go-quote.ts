/**
 * Go's strconv quoting (Go 1.26, strconv/quote.go) as fmt's %q and OPA's value text use it:
 * Quote, QuoteToASCII, QuoteRune's escapes, IsPrint and CanBackquote, over Unicode code points.
 */

export const MAX_RUNE = 0x10ffff;
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

/** strconv.IsPrint. */
export function isPrint(r: number): boolean {
  if (r < 0x80) return r >= 0x20 && r < 0x7f;
  return PRINTABLE.test(String.fromCodePoint(r));
}

export function validRune(r: number): boolean {
  return r >= 0 && r <= MAX_RUNE && !(r >= 0xd800 && r <= 0xdfff);
}

/** strconv's appendEscapedRune. */
export function escapedRune(r: number, quote: string, asciiOnly: boolean): string {
  const ch = String.fromCodePoint(r);
  if (ch === quote || ch === '\\') return `\\${ch}`;
  if (asciiOnly ? r < 0x80 && isPrint(r) : isPrint(r)) return ch;
  switch (ch) {
    case '\x07': return '\\a';
    case '\b': return '\\b';
    case '\f': return '\\f';
    case '\n': return '\\n';
    case '\r': return '\\r';
    case '\t': return '\\t';
    case '\v': return '\\v';
    default: break;
  }
  if (r < 0x20 || r === 0x7f) return `\\x${r.toString(16).padStart(2, '0')}`;
  const rune = validRune(r) ? r : 0xfffd;
  return rune < 0x10000 ? `\\u${rune.toString(16).padStart(4, '0')}` : `\\U${rune.toString(16).padStart(8, '0')}`;
}

/** strconv.Quote / QuoteToASCII. */
export function goQuote(s: string, asciiOnly = false): string {
  let out = '"';
  for (const ch of s) out += escapedRune(ch.codePointAt(0)!, '"', asciiOnly);
  return `${out}"`;
}

export function canBackquote(s: string): boolean {
  for (const ch of s) {
    const r = ch.codePointAt(0)!;
    if (r === 0xfeff || ch === '`') return false;
    if (r < 0x80 && r !== 0x09 && !isPrint(r)) return false;
  }
  return true;
}
