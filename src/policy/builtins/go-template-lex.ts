/**
 * text/template's lexing (Go 1.26, text/template/parse/lex.go) for go-template.ts: the template
 * split into text and actions with trim markers applied and comments dropped, an action into
 * tokens, and string and number literals read as Go reads them.
 */
import { fromByteString } from './go-bytes.js';
import { fail, GoFloat, GoInt, type TValue } from './go-template-values.js';

const SPACE = /^[ \t\r\n]*/;
const TRAILING_SPACE = /[ \t\r\n]*$/;

/** Split the template into text and action bodies, applying trim markers and dropping comments. */
export function scan(template: string): ({ text: string } | { action: string })[] {
  const out: ({ text: string } | { action: string })[] = [];
  let rest = template;
  let trimNext = false;
  for (;;) {
    const open = rest.indexOf('{{');
    let text = open < 0 ? rest : rest.slice(0, open);
    if (trimNext) text = text.replace(SPACE, '');
    if (open < 0) {
      if (text) out.push({ text });
      return out;
    }
    let body = rest.slice(open + 2);
    // "{{- " trims the text before; a comment must start right after the delimiter (and marker).
    if (/^-[ \t\r\n]/.test(body)) {
      text = text.replace(TRAILING_SPACE, '');
      body = body.slice(2);
    }
    if (text) out.push({ text });
    if (body.startsWith('/*')) {
      const endComment = body.indexOf('*/');
      if (endComment < 0) fail('unclosed comment');
      const after = body.slice(endComment + 2);
      if (/^[ \t\r\n]-\}\}/.test(after)) {
        trimNext = true;
        rest = after.slice(4);
      } else if (after.startsWith('}}')) {
        trimNext = false;
        rest = after.slice(2);
      } else {
        fail('comment ends before closing delimiter');
      }
      continue;
    }
    const close = findClose(body);
    let action = body.slice(0, close);
    trimNext = false;
    if (/[ \t\r\n]-$/.test(action)) {
      trimNext = true;
      action = action.slice(0, -1);
    }
    out.push({ action });
    rest = body.slice(close + 2);
  }
}

/** Where the action's `}}` is, skipping quoted strings. */
function findClose(body: string): number {
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '"' || c === '`' || c === "'") {
      const end = c === '`' ? body.indexOf('`', i + 1) : skipQuoted(body, i, c);
      if (end < 0) fail('unterminated quoted string');
      i = end;
    } else if (c === '}' && body[i + 1] === '}') {
      return i;
    }
  }
  return fail('unclosed action');
}

function skipQuoted(s: string, start: number, quote: string): number {
  for (let i = start + 1; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === quote) return i;
    else if (s[i] === '\n') return -1;
  }
  return -1;
}

const TOKEN = /\s*(?:("(?:[^"\\\n]|\\.)*")|(`[^`]*`)|('(?:[^'\\\n]|\\.)*')|(:=|=|\||\(|\)|,)|(\$[A-Za-z0-9_]*)|((?:\.[A-Za-z0-9_]+)+|\.)|([+-]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:[0-9][0-9_]*\.?[0-9_]*|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9]+)?)(?![A-Za-z0-9_.]))|([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_]+)*))/y;

export type Token = { k: 'str' | 'char' | 'op' | 'var' | 'field' | 'num' | 'ident'; v: string; fields?: string };

export function tokenize(action: string): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (action.slice(pos).trim() !== '') {
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(action);
    if (!m) return fail(`unexpected ${JSON.stringify(action.slice(pos).trim().slice(0, 10))} in action`);
    pos = TOKEN.lastIndex;
    if (m[1] || m[2]) tokens.push({ k: 'str', v: m[1] ?? m[2]! });
    else if (m[3]) tokens.push({ k: 'char', v: m[3] });
    else if (m[4]) tokens.push({ k: 'op', v: m[4] });
    else if (m[5]) tokens.push({ k: 'var', v: m[5] });
    else if (m[6]) tokens.push({ k: 'field', v: m[6] });
    else if (m[7]) tokens.push({ k: 'num', v: m[7] });
    else tokens.push({ k: 'ident', v: m[8]!, fields: m[9] });
    // A variable or a closing parenthesis may be followed directly by .field chains.
    if ((m[5] || m[4] === ')') && action[pos] === '.') {
      const chain = /(?:\.[A-Za-z0-9_]+)+/y;
      chain.lastIndex = pos;
      const c = chain.exec(action);
      if (c) {
        tokens.push({ k: 'field', v: `@${c[0]}` });
        pos = chain.lastIndex;
      }
    }
  }
  return tokens;
}

/** strconv.Unquote for a double-quoted or raw string literal. */
export function unquote(literal: string): string {
  if (literal.startsWith('`')) return literal.slice(1, -1).replace(/\r/g, '');
  let out = '';
  const body = literal.slice(1, -1);
  const bytes: number[] = [];
  const flush = () => {
    if (bytes.length) out += fromByteString(String.fromCharCode(...bytes.splice(0)));
  };
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      flush();
      out += c;
      continue;
    }
    const e = body[++i]!;
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"' };
    if (simple[e] !== undefined) {
      flush();
      out += simple[e];
    } else if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 1, i + 3))) {
      bytes.push(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (e >= '0' && e <= '7' && /^[0-7]{3}$/.test(body.slice(i, i + 3)) && parseInt(body.slice(i, i + 3), 8) < 256) {
      bytes.push(parseInt(body.slice(i, i + 3), 8));
      i += 2;
    } else if ((e === 'u' || e === 'U') && new RegExp(`^[0-9a-fA-F]{${e === 'u' ? 4 : 8}}$`).test(body.slice(i + 1, i + (e === 'u' ? 5 : 9)))) {
      const n = e === 'u' ? 4 : 8;
      const r = parseInt(body.slice(i + 1, i + 1 + n), 16);
      if (r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff)) fail('invalid escape');
      flush();
      out += String.fromCodePoint(r);
      i += n;
    } else {
      fail('invalid escape in string literal');
    }
  }
  flush();
  return out;
}

/** A number constant as text/template's idealConstant types it: int, or float64 when written with . e p. */
export function numberConstant(text: string): TValue {
  const clean = text.replace(/_/g, '');
  if (/^[+-]?0[xX]/.test(clean) || /^[+-]?0[bB]/.test(clean) || /^[+-]?0[oO]/.test(clean) || /^[+-]?[0-9]+$/.test(clean)) {
    const neg = clean.startsWith('-');
    const body = clean.replace(/^[+-]/, '');
    const radix = /^0[xX]/.test(body) ? 16 : /^0[bB]/.test(body) ? 2 : /^0[oO]/.test(body) ? 8 : /^0[0-9]/.test(body) ? 8 : 10;
    const digits = radix === 10 ? body : radix === 8 && !/^0[oO]/.test(body) ? body.slice(1) || '0' : body.slice(2);
    let n = 0n;
    for (const d of digits) {
      const v = parseInt(d, radix);
      if (Number.isNaN(v)) fail(`bad number syntax: ${text}`);
      n = n * BigInt(radix) + BigInt(v);
    }
    if (neg) n = -n;
    if (n < -(2n ** 63n) || n >= 2n ** 63n) fail(`number out of range: ${text}`);
    return new GoInt(n);
  }
  const value = Number(clean);
  if (!Number.isFinite(value)) fail(`bad number syntax: ${text}`);
  return new GoFloat(value);
}

/** A character constant ('a', '\n', '\x41', '日'): its code point as an int (strconv.UnquoteChar). */
export function charConstant(literal: string): TValue {
  const body = literal.slice(1, -1);
  let rune: number | undefined;
  if (/^\\x[0-9a-fA-F]{2}$/.test(body)) rune = parseInt(body.slice(2), 16);
  else if (/^\\[0-7]{3}$/.test(body)) rune = parseInt(body.slice(1), 8);
  else if (body === "\\'") rune = 0x27;
  else if (body === '"') rune = 0x22;
  else if (body !== '\\"') {
    const runes = Array.from(unquote(`"${body}"`));
    if (runes.length === 1 && !(body.startsWith('\\x') || /^\\[0-7]/.test(body))) rune = runes[0]!.codePointAt(0);
  }
  if (rune === undefined || rune > 0xff && /^\\[0-7x]/.test(body)) return fail(`malformed character constant: ${literal}`);
  return new GoInt(BigInt(rune));
}
