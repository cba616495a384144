/**
 * libyaml's folding of long plain and single-quoted scalars (emitterc.go, write_plain and
 * write_single_quoted), applied to the `yaml` package's unfolded output: at a single space, once
 * the line is past column 80 and more text follows, the line breaks and continues two columns
 * deeper than the entry (`- ` item or `key:`) the scalar belongs to. Double-quoted scalars and
 * block literals are left as written.
 */

const BEST_WIDTH = 80;

/** Where a line's scalar starts and the column its continuation lines take; undefined: no foldable scalar. */
function scalarOf(line: string): { start: number; indent: number } | undefined {
  let i = 0;
  while (line[i] === ' ') i++;
  let entry = i;
  while (line.startsWith('- ', i)) {
    entry = i;
    i += 2;
  }
  // a key: plain up to ": ", or quoted
  const keyStart = i;
  let j = i;
  if (line[j] === "'" || line[j] === '"') {
    const quote = line[j]!;
    for (j++; j < line.length; j++) {
      if (quote === "'" && line[j] === "'" && line[j + 1] === "'") j++;
      else if (quote === '"' && line[j] === '\\') j++;
      else if (line[j] === quote) break;
    }
    j++;
    // a quoted key with its value on the next lines
    if (line.slice(j) === ':') return undefined;
  } else {
    const colon = line.indexOf(': ', j);
    j = colon < 0 ? -1 : colon;
  }
  if (j > 0 && line.startsWith(': ', j)) {
    entry = keyStart;
    i = j + 2;
  }
  const first = line[i];
  if (first === undefined || first === '"' || first === '[' || first === '{') return undefined;
  // a single-quoted scalar is the whole rest of the line
  if (first === "'" && (line.length - i < 2 || !line.endsWith("'"))) return undefined;
  return { start: i, indent: entry + 2 };
}

/** Fold one scalar's text, written from `column` on, as libyaml does. */
function foldScalar(text: string, column: number, indent: number, quoted: boolean): string {
  let out = '';
  let col = column;
  let spaces = false;
  const chars = [...text];
  for (let k = 0; k < chars.length; k++) {
    const ch = chars[k]!;
    if (ch === ' ') {
      const edge = quoted && (k === 0 || k === chars.length - 1);
      if (!spaces && col > BEST_WIDTH && !edge && chars[k + 1] !== ' ' && k + 1 < chars.length) {
        out += `\n${' '.repeat(indent)}`;
        col = indent;
      } else {
        out += ch;
        col++;
      }
      spaces = true;
    } else {
      out += ch;
      col++;
      spaces = false;
    }
  }
  return out;
}

export function foldLongScalars(yaml: string): string {
  // a document that is one block literal has nothing to fold
  if (/^[|>]/.test(yaml)) return yaml;
  const lines = yaml.split('\n');
  const out: string[] = [];
  let blockIndent = -1; // inside a block literal: lines deeper than this are its content
  for (const line of lines) {
    const depth = line.length - line.trimStart().length;
    if (blockIndent >= 0 && (line.trim() === '' || depth > blockIndent)) {
      out.push(line);
      continue;
    }
    blockIndent = -1;
    const scalar = scalarOf(line);
    if (!scalar) {
      out.push(line);
      continue;
    }
    const value = line.slice(scalar.start);
    if (/^[|>]/.test(value)) {
      blockIndent = scalar.indent - 2;
      out.push(line);
      continue;
    }
    // the scalar's inner text (single-quoted: between the quotes, folded as libyaml does inside them)
    const quoted = value.startsWith("'");
    const inner = quoted ? value.slice(1, -1) : value;
    const folded = foldScalar(inner, [...line.slice(0, scalar.start)].length + (quoted ? 1 : 0), scalar.indent, quoted);
    out.push(line.slice(0, scalar.start) + (quoted ? `'${folded}'` : folded));
  }
  return out.join('\n');
}
