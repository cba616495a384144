/**
 * text/template's parser (Go 1.26, text/template/parse/parse.go) for go-template.ts: actions into
 * a tree of nodes, with Go's parse-time errors (undefined functions and variables, {{break}}
 * outside {{range}}, misplaced {{else}}/{{end}}, a second non-empty definition of a template).
 */
import { charConstant, numberConstant, tokenize, unquote, type Token } from './go-template-lex.js';
import { fail, FUNCS, LAZY, type TValue } from './go-template-values.js';

export type Node =
  | { t: 'text'; text: string }
  | { t: 'action'; pipe: Pipe }
  | { t: 'if' | 'with' | 'range'; pipe: Pipe; list: Node[]; else?: Node[] }
  | { t: 'break' | 'continue' }
  | { t: 'template'; name: string; pipe: Pipe | undefined };

export interface Pipe {
  decl: string[];
  assign: boolean;
  cmds: Arg[][];
}

export type Arg =
  | { t: 'dot' }
  | { t: 'field'; base: Arg | undefined; names: string[] } // base undefined: .a.b on dot
  | { t: 'var'; name: string; names: string[] }
  | { t: 'const'; value: TValue }
  | { t: 'fn'; name: string }
  | { t: 'pipe'; pipe: Pipe; names: string[] };

/** The name OPA gives the template it parses (template.New("template")). */
export const MAIN = 'template';

/** A text node of only whitespace, or nothing: text/template's IsEmptyTree. */
const isEmptyTree = (nodes: Node[]) => nodes.every((n) => n.t === 'text' && n.text.trim() === '');

export class Parser {
  #i = 0;
  #rangeDepth = 0;
  #depth = 0;
  /** Variables in scope while parsing (text/template checks them at parse time). */
  #scope: string[] = ['$'];
  readonly defines = new Map<string, Node[]>();
  constructor(private readonly items: ({ text: string } | { action: string })[]) {}

  /** The main template; {{define}}d and {{block}} templates land in `defines`, the main one as "template". */
  parse(): Node[] {
    const [list, end] = this.#list();
    if (end !== undefined) fail(`unexpected {{${end}}}`);
    this.#define(MAIN, list);
    return list;
  }

  /** Add a named template as text/template's AddParseTree does: an empty body never replaces one. */
  #define(name: string, body: Node[]): void {
    const old = this.defines.get(name);
    if (old && !isEmptyTree(old)) {
      if (!isEmptyTree(body)) fail(`multiple definition of template ${JSON.stringify(name)}`);
      return;
    }
    this.defines.set(name, body);
  }

  /** {{define "name"}}, {{block "name" pipeline}}, {{template "name" [pipeline]}}. */
  #templateAction(word: 'define' | 'block' | 'template', rest: string): Node | undefined {
    const tokens = tokenize(rest);
    const nameToken = tokens[0];
    if (nameToken?.k !== 'str') return fail(`unexpected name in ${word} clause`);
    const name = unquote(nameToken.v);
    const pipe = tokens.length > 1 ? parsePipe(tokens.slice(1), false, this.#scope) : undefined;
    if (word === 'template') return { t: 'template', name, pipe };
    if (word === 'define' && (this.#depth > 0 || pipe)) fail('unexpected define clause');
    if (word === 'block' && !pipe) fail('missing value for block clause');
    const rangeDepth = this.#rangeDepth;
    const scope = this.#scope;
    this.#rangeDepth = 0;
    this.#scope = ['$'];
    this.#depth++;
    const [body, end] = this.#list();
    this.#depth--;
    this.#rangeDepth = rangeDepth;
    this.#scope = scope;
    if (end !== 'end') fail(`unexpected ${end === undefined ? 'EOF' : `{{${end}}}`} in ${word} clause`);
    this.#define(name, body);
    return word === 'block' ? { t: 'template', name, pipe } : undefined;
  }

  /** Nodes up to {{end}} / {{else ...}} (returned as the second value) or the end. */
  #list(): [Node[], string | undefined] {
    const nodes: Node[] = [];
    while (this.#i < this.items.length) {
      const item = this.items[this.#i++]!;
      if ('text' in item) {
        nodes.push({ t: 'text', text: item.text });
        continue;
      }
      const action = item.action.trim();
      const word = /^[A-Za-z]+/.exec(action)?.[0];
      if (word === 'end' && action === 'end') return [nodes, 'end'];
      if (word === 'else') return [nodes, action];
      if (word === 'if' || word === 'with' || word === 'range') {
        nodes.push(this.#control(word, action.slice(word.length)));
        continue;
      }
      if ((word === 'break' || word === 'continue') && action === word) {
        if (this.#rangeDepth === 0) fail(`{{${word}}} outside {{range}}`);
        nodes.push({ t: word });
        continue;
      }
      if ((word === 'define' || word === 'block' || word === 'template') && /^[A-Za-z]+(\s|$)/.test(action)) {
        const node = this.#templateAction(word, action.slice(word.length));
        if (node) nodes.push(node);
        continue;
      }
      if (word && ['break', 'continue', 'end', 'else'].includes(word) && /^[A-Za-z]+(\s|$)/.test(action)) {
        fail(`{{${word}}} is not supported`);
      }
      const pipe = parsePipe(tokenize(item.action), true, this.#scope);
      if (pipe.cmds.length === 0) fail('missing value for command');
      nodes.push({ t: 'action', pipe });
    }
    return [nodes, undefined];
  }

  #control(kind: 'if' | 'with' | 'range', rest: string): Node {
    const outer = this.#scope.length;
    try {
      return this.#controlBody(kind, rest);
    } finally {
      this.#scope.length = outer;
    }
  }

  #controlBody(kind: 'if' | 'with' | 'range', rest: string): Node {
    const pipe = parsePipe(tokenize(rest), kind !== 'if', this.#scope);
    if (pipe.cmds.length === 0) fail(`missing value for ${kind}`);
    if (kind === 'range' && pipe.decl.length > 2) fail('too many declarations in range');
    if (kind !== 'range' && pipe.decl.length > 1) fail('too many declarations');
    if (kind === 'range') this.#rangeDepth++;
    this.#depth++;
    const [list, end] = this.#list();
    this.#depth--;
    if (kind === 'range') this.#rangeDepth--;
    if (end === undefined) fail(`unexpected EOF in ${kind}`);
    const node: { t: 'if' | 'with' | 'range'; pipe: Pipe; list: Node[]; else?: Node[] } = { t: kind, pipe, list };
    if (end === 'end') return node;
    const elseRest = end!.slice(4).trim();
    if (elseRest === '') {
      this.#depth++;
      const [elseList, elseEnd] = this.#list();
      this.#depth--;
      if (elseEnd !== 'end') fail('expected end after else');
      node.else = elseList;
      return node;
    }
    // {{else if ...}} / {{else with ...}}: a nested control sharing our {{end}}.
    const word = /^[A-Za-z]+/.exec(elseRest)?.[0];
    if ((word === 'if' && kind === 'if') || (word === 'with' && kind === 'with')) {
      node.else = [this.#control(word, elseRest.slice(word.length))];
      return node;
    }
    return fail(`unexpected {{${end}}}`);
  }
}

/**
 * One pipeline. `scope` holds the variables in scope: a declaration adds to it (for its own
 * pipeline too, as Go's parser does) and using an undeclared variable is a parse error.
 */
export function parsePipe(tokens: Token[], allowDecl: boolean, scope: string[]): Pipe {
  const pipe: Pipe = { decl: [], assign: false, cmds: [] };
  let k = 0;
  // Declarations: $x :=, $x =, $i, $e :=
  const declEnd = tokens.findIndex((t) => t.k === 'op' && (t.v === ':=' || t.v === '='));
  if (declEnd > 0 && tokens.slice(0, declEnd).every((t, i) => (i % 2 === 0 ? t.k === 'var' : t.k === 'op' && t.v === ','))) {
    if (!allowDecl && declEnd > 1) fail('too many declarations');
    pipe.decl = tokens.slice(0, declEnd).filter((t) => t.k === 'var').map((t) => t.v);
    pipe.assign = tokens[declEnd]!.v === '=';
    scope.push(...pipe.decl);
    k = declEnd + 1;
  }
  let cmd: Arg[] = [];
  for (; k < tokens.length; k++) {
    const tok = tokens[k]!;
    if (tok.k === 'op' && tok.v === '|') {
      if (cmd.length === 0) fail('missing command in pipeline');
      pipe.cmds.push(cmd);
      cmd = [];
      continue;
    }
    if (tok.k === 'op' && tok.v === '(') {
      let depth = 1;
      let j = k + 1;
      for (; j < tokens.length && depth > 0; j++) {
        if (tokens[j]!.k === 'op' && tokens[j]!.v === '(') depth++;
        if (tokens[j]!.k === 'op' && tokens[j]!.v === ')') depth--;
      }
      if (depth !== 0) fail('unclosed left paren');
      const inner = parsePipe(tokens.slice(k + 1, j - 1), false, scope);
      if (inner.decl.length) fail('declaration in parenthesized pipeline');
      if (inner.cmds.length === 0) fail('missing value in parentheses');
      let names: string[] = [];
      if (tokens[j]?.k === 'field' && tokens[j]!.v.startsWith('@')) {
        names = tokens[j]!.v.slice(2).split('.');
        j++;
      }
      cmd.push({ t: 'pipe', pipe: inner, names });
      k = j - 1;
      continue;
    }
    if (tok.k === 'var' && !scope.includes(tok.v)) fail(`undefined variable ${JSON.stringify(tok.v)}`);
    cmd.push(operand(tok, tokens[k + 1]));
    if (tokens[k + 1]?.k === 'field' && tokens[k + 1]!.v.startsWith('@')) k++;
  }
  if (cmd.length) pipe.cmds.push(cmd);
  else if (pipe.cmds.length) fail('missing command after |');
  for (const c of pipe.cmds.slice(1)) if (c[0]!.t !== 'fn' && c.length > 1) fail('non-function command with arguments in pipeline');
  for (const c of pipe.cmds) if (c.length > 1 && c[0]!.t !== 'fn') fail(`can't give argument to non-function`);
  return pipe;
}

function operand(tok: Token, next: Token | undefined): Arg {
  const chain = next?.k === 'field' && next.v.startsWith('@') ? next.v.slice(2).split('.') : [];
  switch (tok.k) {
    case 'str':
      return { t: 'const', value: unquote(tok.v) };
    case 'char':
      return { t: 'const', value: charConstant(tok.v) };
    case 'num':
      return { t: 'const', value: numberConstant(tok.v) };
    case 'var':
      return { t: 'var', name: tok.v, names: chain };
    case 'field':
      return tok.v === '.' ? { t: 'dot' } : { t: 'field', base: undefined, names: tok.v.slice(1).split('.') };
    case 'ident': {
      if (tok.fields) fail(`can't evaluate field of ${tok.v}`);
      if (tok.v === 'true' || tok.v === 'false') return { t: 'const', value: tok.v === 'true' };
      if (tok.v === 'nil') return { t: 'const', value: null };
      if (tok.v in FUNCS || LAZY.has(tok.v)) return { t: 'fn', name: tok.v };
      return fail(`function ${JSON.stringify(tok.v)} not defined`);
    }
    default:
      return fail(`unexpected ${tok.v}`);
  }
}
