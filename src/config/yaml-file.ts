/**
 * Reads the YAML configuration file (`serve --config`): each top-level key's value with the
 * file:line:column of the value (and of each list item), so a bad value is reported where it is.
 * YAML errors are reported at the line that is wrong. The `yaml` package places the error of a
 * stray indentation at the start of the value it ends up continuing (line 3 for a bad line 4):
 * YAML folds a more-indented line into the plain scalar above it, so `bundle: b.tar.gz` followed by
 * `  max_body_bytes: 10` is one multi-line value. Such a multi-line plain value is refused even
 * when it parses (`  - b` under `- a` silently made the item "a - b"): no configuration value
 * spans lines, and a deliberate one can be quoted or written as a block scalar (| or >).
 */
import { readFileSync } from 'node:fs';
import { CST, LineCounter, Parser, isAlias, isMap, isSeq, parseDocument, type Node } from 'yaml';
import { GatehouseError, describeThrown } from '../errors.js';

/** One top-level key of the file: its value and where it is (file:line:column). */
export interface FileEntry {
  value: unknown;
  /** Where the value starts (where the key is, for a key without a value). */
  at: string;
  /** Where the key is. */
  keyAt: string;
  /** Where each item of a list value starts. */
  itemsAt?: string[];
}

/** A scalar of the CST: its kind (plain "scalar", "double-quoted-scalar", ...), where it starts, its source. */
interface ScalarToken {
  type: string;
  offset: number;
  source: string;
}

const fail = (message: string): never => {
  throw new GatehouseError('config_invalid', message);
};

/**
 * The top-level entries of a configuration file, in file order (an empty file has none).
 * Throws GatehouseError config_invalid when it cannot be read, is not YAML, is not a mapping, or
 * has a value folded over several lines; the message names file:line:column and the fix.
 */
export function readConfigFile(file: string): Map<string, FileEntry> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return fail(`cannot read config file ${file}: ${describeThrown(error)}. Fix: check the path given to --config`);
  }
  // A byte-order mark (editors on Windows) is no column of the file: positions count without it.
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const where = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, col, text: `${file}:${line}:${col}` };
  };
  // The CST walk recurses: nesting deeper than the stack (the document's errors say where) leaves
  // no scalars to check for folding.
  const scalars = (() => {
    try {
      return scalarTokens(text);
    } catch {
      return [];
    }
  })();
  const folded = scalars.filter((s) => s.type === 'scalar' && s.source.includes('\n'));
  const error = document.errors[0];
  if (error) {
    const [start] = error.pos;
    const around = (s: ScalarToken) => start >= s.offset && start <= s.offset + s.source.length;
    const stray = folded.find(around);
    if (stray) return strayIndentation(file, text, stray, lineCounter);
    // yaml reports an unclosed quote at the end of the file; the opening quote is what to fix.
    const unclosed = error.code === 'MISSING_CHAR' ? scalars.find((s) => s.type.endsWith('quoted-scalar') && around(s)) : undefined;
    if (unclosed) {
      const { line, col, text: at } = where(unclosed.offset);
      return fail(`config file ${at}: this quote is never closed, so YAML reads the rest of the file as one value. Fix: close it on the same line\n${excerpt(text, [line], line, col)}`);
    }
    // An error reported in a line's leading white space is about the first thing on that line
    // (but a tab in the indentation is itself the error).
    const lineStart = start - (where(start).col - 1);
    const inIndentation = error.code !== 'TAB_AS_INDENT' && /^[ \t]*$/.test(text.slice(lineStart, start));
    const reported = inIndentation ? lineStart + /^[ \t]*/.exec(text.slice(lineStart))![0].length : start;
    const { line, col, text: at } = where(reported);
    // The line before (the last one with content) is shown too: an indentation error is often noticed a line late.
    const all = text.split(/\r?\n/);
    let before = line - 1;
    while (before >= 1 && (all[before - 1]!.trim() === '' || all[before - 1]!.trim().startsWith('#'))) before -= 1;
    const lines = before >= 1 ? [before, line] : [line];
    return fail(`config file ${at}: ${syntaxProblem(error.code, error.message, reported, text, document.contents, where)}\n${excerpt(text, lines, line, col)}`);
  }
  if (folded[0]) return strayIndentation(file, text, folded[0], lineCounter);
  const root = document.contents;
  if (root === null || (root as { value?: unknown }).value === null) return new Map();
  if (!isMap(root)) return fail(`config file ${file} must be a YAML mapping of keys to values (key: value, one per line)`);
  const entries = new Map<string, FileEntry>();
  for (const pair of root.items) {
    const keyNode = pair.key as Node | null;
    const valueNode = pair.value as Node | null;
    // A key may be an alias (*k : v) of an anchored scalar: its name is the anchored text.
    const named: Node | null | undefined = isAlias(keyNode) ? keyNode.resolve(document) : keyNode;
    const key = isAlias(keyNode) && named === undefined ? `*${keyNode.source}` : named && 'value' in named ? String((named as { value: unknown }).value) : JSON.stringify(named?.toJSON());
    const atOffset = valueNode?.range?.[0] ?? keyNode?.range?.[0] ?? 0;
    entries.set(key, {
      value: valueNode === null ? null : valueOf(valueNode, key, where(atOffset).text),
      at: where(atOffset).text,
      keyAt: where(keyNode?.range?.[0] ?? atOffset).text,
      ...(isSeq(valueNode) ? { itemsAt: valueNode.items.map((item) => where((item as Node).range?.[0] ?? atOffset).text) } : {}),
    });
  }
  return entries;

  function valueOf(node: Node, key: string, at: string): unknown {
    try {
      return node.toJS(document, { maxAliasCount: MAX_ALIAS_COUNT });
    } catch (error) {
      // yaml throws a ReferenceError for an alias without an anchor, and for aliases expanding
      // past maxAliasCount ("billion laughs").
      const message = describeThrown(error);
      if (/unresolved alias/i.test(message)) {
        return fail(`config file ${at}: the value of key "${key}" is an alias (*name) with no anchor (&name) set before it (${message}). Fix: set the anchor before the alias, or write the value out`);
      }
      if (/alias count/i.test(message)) {
        return fail(`config file ${at}: the value of key "${key}" uses aliases (*name) that expand to more than ${MAX_ALIAS_COUNT} copies (${message}). Fix: write the value out instead of nesting aliases`);
      }
      return fail(`config file ${at}: the value of key "${key}" cannot be read (${message}). Fix: write it as a plain value or list`);
    }
  }
}

/** Most alias expansions in one value: a configuration value needs few, a "billion laughs" file needs millions. */
const MAX_ALIAS_COUNT = 100;

/** What is wrong at `offset` (a YAML syntax error) and the fix, in the user's terms rather than the parser's. */
function syntaxProblem(code: string, message: string, offset: number, text: string, root: unknown, where: (offset: number) => { line: number }): string {
  switch (code) {
    case 'TAB_AS_INDENT':
      return `${message}. Fix: indent with spaces (YAML allows no tabs in indentation)`;
    case 'DUPLICATE_KEY': {
      const items = isMap(root) ? root.items : [];
      const here = items.find((pair) => (pair.key as Node | null)?.range?.[0] === offset);
      const name = (pair: (typeof items)[number]) => JSON.stringify((pair.key as Node | null)?.toJSON());
      const first = here && items.find((pair) => pair !== here && name(pair) === name(here));
      const firstAt = (first?.key as Node | null | undefined)?.range?.[0];
      return firstAt === undefined
        ? `${message}. Fix: keep one of the keys of that name`
        : `key ${name(here!)} is already set on line ${where(firstAt).line} (map keys must be unique). Fix: keep one of the two`;
    }
    case 'MULTIPLE_DOCS':
      return text.startsWith('---', offset)
        ? 'a second YAML document starts here; a config file is one document. Fix: remove this "---" line (the keys after it belong with the ones above)'
        : 'a second YAML document starts here; a config file is one document. Fix: put every key in one mapping';
    default:
      return `${message}. Fix: correct the YAML at this line (keys of one mapping start in the same column, list items "- " line up)`;
  }
}

/** Every scalar token of the CST, key or value, in file order. */
function scalarTokens(text: string): ScalarToken[] {
  const found: ScalarToken[] = [];
  const add = (token: unknown) => {
    const t = token as { type?: string; offset?: number; source?: string } | null | undefined;
    if (t?.type?.endsWith('scalar') && typeof t.source === 'string' && typeof t.offset === 'number') {
      found.push({ type: t.type, offset: t.offset, source: t.source });
    }
  };
  for (const token of new Parser().parse(text)) {
    if (token.type !== 'document') continue;
    add(token.value);
    CST.visit(token, (item) => {
      add(item.key);
      add(item.value);
    });
  }
  return found.sort((a, b) => a.offset - b.offset);
}

/** The error for a line YAML folded into the plain value above it, at that line. */
function strayIndentation(file: string, text: string, scalar: ScalarToken, lineCounter: LineCounter): never {
  const newline = scalar.source.indexOf('\n');
  const continued = scalar.offset + newline + 1 + /^\s*/.exec(scalar.source.slice(newline + 1))![0].length;
  const first = lineCounter.linePos(scalar.offset);
  const bad = lineCounter.linePos(continued);
  return fail(
    `config file ${file}:${bad.line}:${bad.col}: this line is indented under line ${first.line}, so YAML reads it as more of the value ` +
      `${JSON.stringify(scalar.source.slice(0, newline).trim())} instead of a line of its own. Fix: start it in the same column as the ` +
      `line it belongs with (a key: at the column of the other keys, a list item "- " at the column of the other items); ` +
      `a value that really spans lines must be quoted\n${excerpt(text, [first.line, bad.line], bad.line, bad.col)}`,
  );
}

/** The most characters of a line an excerpt shows. */
const EXCERPT_MAX_CHARS = 160;

/** The given lines of `text`, numbered, with a caret under `line`:`col` (1-based). */
function excerpt(text: string, lines: readonly number[], line: number, col: number): string {
  const all = text.split(/\r?\n/);
  const width = String(Math.max(...lines)).length;
  const out: string[] = [];
  for (const n of [...new Set(lines)].sort((a, b) => a - b)) {
    // A long line is shown around the column (or its start): a line can be megabytes.
    const full = all[n - 1] ?? '';
    const from = n === line && col > EXCERPT_MAX_CHARS / 2 ? col - 1 - EXCERPT_MAX_CHARS / 2 : 0;
    const shown = `${from > 0 ? '…' : ''}${full.slice(from, from + EXCERPT_MAX_CHARS)}${full.length > from + EXCERPT_MAX_CHARS ? '…' : ''}`;
    out.push(`  ${String(n).padStart(width)} | ${shown}`);
    // The caret line repeats the tabs before the column, so a terminal lines the caret up with the text.
    const before = (from > 0 ? '…' : '') + full.slice(from, col - 1);
    if (n === line) out.push(`  ${' '.repeat(width)} | ${before.replace(/[^\t]/g, ' ').padEnd(col - 1 - from + (from > 0 ? 1 : 0))}^`);
  }
  return out.join('\n');
}
