/**
 * fmt's per-verb formatting (Go 1.26, fmt/format.go and the print.go dispatch) for the operand
 * kinds OPA's sprintf produces, and big.Int's Format method (math/big/intconv.go). go-fmt.ts
 * parses the format string and drives a Printer.
 */
import { formatFloat } from './go-float.js';
import { canBackquote, escapedRune, goQuote, isPrint, MAX_RUNE, validRune } from './go-quote.js';

export type GoArg =
  | { kind: 'int'; value: bigint; type?: 'int' | 'uint8' } // int64 (sprintf); int, uint8 (templates)
  | { kind: 'float'; value: number } // float64
  | { kind: 'big'; value: bigint } // *big.Int
  | { kind: 'string'; value: string; type?: 'json.Number' } // a string, or a named string type
  | { kind: 'bool'; value: boolean }
  // Only from strings.render_template's printf: JSON-decoded values inside interface{}.
  | { kind: 'nil' }
  | { kind: 'list'; items: GoArg[] } // []interface {}
  | { kind: 'map'; entries: [string, GoArg][] }; // map[string]interface {}, keys sorted

const TYPE_NAMES = {
  int: 'int64', float: 'float64', big: '*big.Int', string: 'string', bool: 'bool', nil: '<nil>', list: '[]interface {}', map: 'map[string]interface {}',
} as const;
export const typeName = (arg: GoArg): string => ('type' in arg && arg.type) || TYPE_NAMES[arg.kind];

export interface Flags {
  widPresent: boolean;
  precPresent: boolean;
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  plusV: boolean;
  sharpV: boolean;
  wid: number;
  prec: number;
}

export const noFlags = (): Flags => ({
  widPresent: false, precPresent: false, minus: false, plus: false, sharp: false, space: false, zero: false,
  plusV: false, sharpV: false, wid: 0, prec: 0,
});

const runeCount = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

const LDIGITS = '0123456789abcdefx';
const UDIGITS = '0123456789ABCDEFX';

/** A big.Int's magnitude as its little-endian 64-bit words (math/big's nat). */
function bigWords(x: bigint): string[] {
  const words: string[] = [];
  for (let m = x < 0n ? -x : x; m > 0n; m >>= 64n) words.push((m & ((1n << 64n) - 1n)).toString());
  return words;
}

export class Printer {
  buf = '';
  f: Flags = noFlags();
  #erroring = false;

  writePadding(n: number): void {
    if (n <= 0) return;
    this.buf += (this.f.zero && !this.f.minus ? '0' : ' ').repeat(n);
  }

  pad(s: string): void {
    if (!this.f.widPresent || this.f.wid === 0) {
      this.buf += s;
      return;
    }
    const width = this.f.wid - runeCount(s);
    if (!this.f.minus) {
      this.writePadding(width);
      this.buf += s;
    } else {
      this.buf += s;
      this.writePadding(width);
    }
  }

  /** `fn` with zero padding switched off (Go's oldZero dance). */
  noZero(fn: () => void): void {
    const zero = this.f.zero;
    this.f.zero = false;
    fn();
    this.f.zero = zero;
  }

  truncate(s: string): string {
    if (!this.f.precPresent) return s;
    return Array.from(s).slice(0, this.f.prec).join('');
  }

  fmtS(s: string): void {
    this.pad(this.truncate(s));
  }

  fmtSx(s: string, digits: string): void {
    const bytes = Buffer.from(s, 'utf8');
    let length = bytes.length;
    if (this.f.precPresent && this.f.prec < length) length = this.f.prec;
    let width = 2 * length;
    if (width > 0) {
      if (this.f.space) {
        if (this.f.sharp) width *= 2;
        width += length - 1;
      } else if (this.f.sharp) {
        width += 2;
      }
    } else {
      if (this.f.widPresent) this.writePadding(this.f.wid);
      return;
    }
    if (this.f.widPresent && this.f.wid > width && !this.f.minus) this.writePadding(this.f.wid - width);
    if (this.f.sharp) this.buf += `0${digits[16]}`;
    for (let i = 0; i < length; i++) {
      if (this.f.space && i > 0) {
        this.buf += ' ';
        if (this.f.sharp) this.buf += `0${digits[16]}`;
      }
      this.buf += digits[bytes[i]! >> 4]! + digits[bytes[i]! & 15]!;
    }
    if (this.f.widPresent && this.f.wid > width && this.f.minus) this.writePadding(this.f.wid - width);
  }

  fmtQ(s: string): void {
    const t = this.truncate(s);
    if (this.f.sharp && canBackquote(t)) {
      this.pad(`\`${t}\``);
      return;
    }
    this.pad(goQuote(t, this.f.plus));
  }

  /** fmt.fmtInteger for an int64 (as its sign and magnitude). */
  fmtInteger(value: bigint, base: number, verb: string, digits: string): void {
    const negative = value < 0n;
    const u = negative ? -value : value;
    let prec = 0;
    if (this.f.precPresent) {
      prec = this.f.prec;
      if (prec === 0 && u === 0n) {
        this.noZero(() => this.writePadding(this.f.wid));
        return;
      }
    } else if (this.f.zero && !this.f.minus && this.f.widPresent) {
      prec = this.f.wid;
      if (negative || this.f.plus || this.f.space) prec--;
    }
    let s = u.toString(base);
    if (digits === UDIGITS) s = s.toUpperCase();
    if (s.length < prec) s = '0'.repeat(prec - s.length) + s;
    if (this.f.sharp) {
      if (base === 2) s = `0b${s}`;
      else if (base === 8 && s[0] !== '0') s = `0${s}`;
      else if (base === 16) s = `0${digits[16]}${s}`;
    }
    if (verb === 'O') s = `0o${s}`;
    if (negative) s = `-${s}`;
    else if (this.f.plus) s = `+${s}`;
    else if (this.f.space) s = ` ${s}`;
    this.noZero(() => this.pad(s));
  }

  fmtUnicode(value: bigint): void {
    const u = BigInt.asUintN(64, value);
    let prec = 4;
    if (this.f.precPresent && this.f.prec > 4) prec = this.f.prec;
    let s = u.toString(16).toUpperCase();
    if (s.length < prec) s = '0'.repeat(prec - s.length) + s;
    s = `U+${s}`;
    if (this.f.sharp && u <= BigInt(MAX_RUNE) && isPrint(Number(u))) s += ` '${String.fromCodePoint(Number(u))}'`;
    this.noZero(() => this.pad(s));
  }

  /** The rune of an int64 for %c and %q (out of range → U+FFFD). */
  static rune(value: bigint): number {
    const u = BigInt.asUintN(64, value);
    const r = u > BigInt(MAX_RUNE) ? 0xfffd : Number(u);
    return validRune(r) ? r : 0xfffd;
  }

  fmtFloat(v: number, verb: string, defaultPrec: number): void {
    const prec = this.f.precPresent ? this.f.prec : defaultPrec;
    let num = formatFloat(v, verb, prec);
    num = num[0] === '-' || num[0] === '+' ? num : `+${num}`;
    if (this.f.space && num[0] === '+' && !this.f.plus) num = ` ${num.slice(1)}`;
    if (this.f.sharp && verb !== 'b') {
      let digits = 0;
      if (verb === 'v' || verb === 'g' || verb === 'G' || verb === 'x') digits = prec === -1 ? 6 : prec;
      let tail = '';
      let body = num;
      let hasDecimalPoint = false;
      let sawNonzeroDigit = false;
      for (let i = 1; i < body.length; i++) {
        const c = body[i]!;
        if (c === '.') {
          hasDecimalPoint = true;
        } else if (c === 'p' || c === 'P' || ((c === 'e' || c === 'E') && verb !== 'x' && verb !== 'X')) {
          tail = body.slice(i);
          body = body.slice(0, i);
          break;
        } else {
          if (c !== '0') sawNonzeroDigit = true;
          if (sawNonzeroDigit) digits--;
        }
      }
      if (!hasDecimalPoint) {
        if (body.length === 2 && body[1] === '0') digits--;
        body += '.';
      }
      if (digits > 0) body += '0'.repeat(digits);
      num = body + tail;
    }
    if (this.f.plus || num[0] !== '+') {
      if (this.f.zero && !this.f.minus && this.f.widPresent && this.f.wid > num.length) {
        this.buf += num[0];
        this.writePadding(this.f.wid - num.length);
        this.buf += num.slice(1);
        return;
      }
      this.pad(num);
      return;
    }
    this.pad(num.slice(1));
  }

  /** big.Int's Format method (math/big/intconv.go). */
  formatBig(x: bigint, verb: string): void {
    let base: number;
    switch (verb) {
      case 'b': base = 2; break;
      case 'o': case 'O': base = 8; break;
      case 'd': case 's': case 'v': base = 10; break;
      case 'x': case 'X': base = 16; break;
      default:
        this.buf += `%!${verb}(big.Int=${x})`;
        return;
    }
    const plus = this.f.plus || this.f.plusV;
    const sharp = this.f.sharp || this.f.sharpV;
    const sign = x < 0n ? '-' : plus ? '+' : this.f.space ? ' ' : '';
    let prefix = '';
    if (sharp) prefix = ({ b: '0b', o: '0', x: '0x', X: '0X' } as Record<string, string>)[verb] ?? '';
    if (verb === 'O') prefix = '0o';
    let digits = (x < 0n ? -x : x).toString(base);
    if (verb === 'X') digits = digits.toUpperCase();
    let left = 0;
    let zeros = 0;
    let right = 0;
    if (this.f.precPresent) {
      if (digits.length < this.f.prec) zeros = this.f.prec - digits.length;
      else if (digits === '0' && this.f.prec === 0) return;
    }
    const length = sign.length + prefix.length + zeros + digits.length;
    if (this.f.widPresent && length < this.f.wid) {
      const d = this.f.wid - length;
      if (this.f.minus) right = d;
      else if (this.f.zero && !this.f.precPresent) zeros = d;
      else left = d;
    }
    this.buf += ' '.repeat(left) + sign + prefix + '0'.repeat(zeros) + digits + ' '.repeat(right);
  }

  badVerb(verb: string, arg: GoArg): void {
    this.#erroring = true;
    if (arg.kind === 'nil') {
      this.buf += `%!${verb}(<nil>)`;
    } else {
      this.buf += `%!${verb}(${typeName(arg)}=`;
      this.printArg(arg, 'v');
      this.buf += ')';
    }
    this.#erroring = false;
  }

  /** One verb of the format: %v and %w take # and + as their Go-syntax forms (sharpV, plusV). */
  printVerb(arg: GoArg, verb: string): void {
    if (verb === 'v' || verb === 'w') {
      this.f.sharpV = this.f.sharp;
      this.f.sharp = false;
      this.f.plusV = this.f.plus;
      this.f.plus = false;
    }
    // %w outside fmt.Errorf: no operand here is an error, so it is always a bad verb.
    if (verb === 'w') this.badVerb('w', arg);
    else this.printArg(arg, verb);
  }

  printArg(arg: GoArg, verb: string): void {
    if (verb === 'T') {
      this.fmtS(typeName(arg));
      return;
    }
    if (verb === 'p') {
      // An address (of a *big.Int, a slice, a map) means nothing outside the Go process.
      if (arg.kind === 'big' || arg.kind === 'list' || arg.kind === 'map') throw new Error('%p of a reference is not supported');
      this.badVerb(verb, arg);
      return;
    }
    switch (arg.kind) {
      case 'nil':
        if (verb === 'v') this.pad('<nil>');
        else this.badVerb(verb, arg);
        return;
      case 'list':
      case 'map':
        return this.#printComposite(arg, verb);
      case 'int':
        return this.#printInt(arg.value, verb, arg);
      case 'float':
        return this.#printFloat(arg.value, verb, arg);
      case 'string':
        return this.#printString(arg.value, verb, arg);
      case 'bool':
        if (verb === 't' || verb === 'v') this.pad(arg.value ? 'true' : 'false');
        else this.badVerb(verb, arg);
        return;
      case 'big':
        // While reporting a bad verb, fmt prints the struct behind the pointer: sign and 64-bit words.
        if (this.#erroring) this.buf += `&{${arg.value < 0n} [${bigWords(arg.value).join(' ')}]}`;
        else this.formatBig(arg.value, verb);
        return;
    }
  }

  /** fmt's printValue for a slice or map: each element formatted with the same verb and flags. */
  #printComposite(arg: Extract<GoArg, { kind: 'list' | 'map' }>, verb: string): void {
    const sharpV = this.f.sharpV;
    const element = (item: GoArg) => {
      if (item.kind === 'nil') {
        if (sharpV) this.buf += 'interface {}(nil)';
        else this.pad('<nil>');
      } else {
        this.printArg(item, verb);
      }
    };
    if (arg.kind === 'list') {
      this.buf += sharpV ? '[]interface {}{' : '[';
      arg.items.forEach((item, i) => {
        if (i > 0) this.buf += sharpV ? ', ' : ' ';
        element(item);
      });
      this.buf += sharpV ? '}' : ']';
      return;
    }
    this.buf += sharpV ? 'map[string]interface {}{' : 'map[';
    arg.entries.forEach(([key, value], i) => {
      if (i > 0) this.buf += sharpV ? ', ' : ' ';
      this.#printString(key, verb, { kind: 'string', value: key });
      this.buf += ':';
      element(value);
    });
    this.buf += sharpV ? '}' : ']';
  }

  #printInt(v: bigint, verb: string, arg: GoArg): void {
    switch (verb) {
      case 'v':
        // %#v of an unsigned integer (a template's byte) is Go hex: fmt0x64.
        if (this.f.sharpV && arg.kind === 'int' && arg.type === 'uint8') {
          this.f.sharp = true;
          this.fmtInteger(v, 16, verb, LDIGITS);
          this.f.sharp = false;
          return;
        }
        return this.fmtInteger(v, 10, verb, LDIGITS);
      case 'd': return this.fmtInteger(v, 10, verb, LDIGITS);
      case 'b': return this.fmtInteger(v, 2, verb, LDIGITS);
      case 'o': case 'O': return this.fmtInteger(v, 8, verb, LDIGITS);
      case 'x': return this.fmtInteger(v, 16, verb, LDIGITS);
      case 'X': return this.fmtInteger(v, 16, verb, UDIGITS);
      case 'c': return this.pad(String.fromCodePoint(Printer.rune(v)));
      case 'q': {
        const r = Printer.rune(v);
        return this.pad(`'${escapedRune(r, "'", this.f.plus)}'`);
      }
      case 'U': return this.fmtUnicode(v);
      default: return this.badVerb(verb, arg);
    }
  }

  #printFloat(v: number, verb: string, arg: GoArg): void {
    switch (verb) {
      case 'v': return this.fmtFloat(v, 'g', -1);
      case 'b': case 'g': case 'G': case 'x': case 'X': return this.fmtFloat(v, verb, -1);
      case 'f': case 'e': case 'E': return this.fmtFloat(v, verb, 6);
      case 'F': return this.fmtFloat(v, 'f', 6);
      default: return this.badVerb(verb, arg);
    }
  }

  #printString(v: string, verb: string, arg: GoArg): void {
    switch (verb) {
      case 'v': return this.f.sharpV ? this.fmtQ(v) : this.fmtS(v);
      case 's': return this.fmtS(v);
      case 'x': return this.fmtSx(v, LDIGITS);
      case 'X': return this.fmtSx(v, UDIGITS);
      case 'q': return this.fmtQ(v);
      default: return this.badVerb(verb, arg);
    }
  }
}
