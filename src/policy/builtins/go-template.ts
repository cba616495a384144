/**
 * Go's text/template as OPA's strings.render_template runs it (topdown/template.go: the variables
 * object decoded as JSON, numbers as json.Number; output with "<no value>" replaced by
 * "<undefined>"). Implemented: text, comments, trim markers, {{pipeline}}, variables ($, $x :=,
 * $x =), fields (.a.b, $x.a, (pipe).a), literals (strings, characters, numbers, true, false, nil), pipes,
 * if / else if / else, range (arrays, objects in key order, counts; $i, $e :=; else), with / else,
 * break, continue, define / template / block, and the functions and, or, not, len, index, slice, eq,
 * ne, lt, le, gt, ge, print, println, printf, html, js, urlquery. Not implemented, and so an error
 * (the result is undefined instead of a string that could differ from OPA's): the call function,
 * printf's %p of a list or object (an address), {{template}} nested deeper than 1000 calls and
 * renderings of more than a million steps. Rules follow text/template (Go 1.26):
 * https://pkg.go.dev/text/template. Values and functions live in
 * go-template-values.ts, lexing in go-template-lex.ts, parsing in go-template-parse.ts; this file
 * executes the tree.
 */
import { MAIN, Parser, type Node, type Pipe, type Arg } from './go-template-parse.js';
import { scan } from './go-template-lex.js';
import { fail, FUNCS, fromRego, isTrue, LAZY, sortedKeys, sprintValue, TemplateError, typeOf, GoInt, type TValue } from './go-template-values.js';
import { BuiltinError, type RegoValue } from './types.js';
import { BoundedMemo } from './bounded-memo.js';

/** How deep {{template}} calls may nest (Go allows 100000; a JavaScript stack does not). */
const MAX_TEMPLATE_DEPTH = 1000;
/** Nodes one rendering may execute: a bound Go does not have, so a policy cannot stall a Check. */
const MAX_STEPS = 1_000_000;

class Exec {
  out = '';
  #vars: [string, TValue][];
  #steps = 0;
  #depth = 0;
  constructor(
    root: TValue,
    private readonly templates: ReadonlyMap<string, Node[]>,
  ) {
    this.#vars = [['$', root]];
  }

  #tick(): void {
    if (++this.#steps > MAX_STEPS) fail('template too expensive');
  }

  walk(nodes: Node[], dot: TValue): void {
    for (const node of nodes) {
      this.#tick();
      switch (node.t) {
        case 'text':
          this.out += node.text;
          break;
        case 'action': {
          const value = this.pipe(node.pipe, dot);
          if (node.pipe.decl.length === 0) this.out += value === undefined || value === null ? '<no value>' : sprintValue(value);
          break;
        }
        case 'if':
        case 'with': {
          const mark = this.#vars.length;
          const value = this.pipe(node.pipe, dot);
          if (isTrue(value)) this.walk(node.list, node.t === 'with' ? value : dot);
          else if (node.else) this.walk(node.else, dot);
          this.#vars.length = mark;
          break;
        }
        case 'range':
          this.#range(node, dot);
          break;
        case 'break':
        case 'continue':
          throw node;
        case 'template': {
          const tree = this.templates.get(node.name);
          if (!tree) fail(`no such template ${JSON.stringify(node.name)}`);
          if (this.#depth >= MAX_TEMPLATE_DEPTH) fail('exceeded maximum template depth');
          const value = node.pipe ? this.pipe(node.pipe, dot) : undefined;
          // A called template sees only its own $ (its dot); break/continue cannot cross it.
          const vars = this.#vars;
          this.#vars = [['$', value]];
          this.#depth++;
          try {
            this.walk(tree!, value);
          } finally {
            this.#depth--;
            this.#vars = vars;
          }
          break;
        }
      }
    }
  }

  #range(node: { pipe: Pipe; list: Node[]; else?: Node[] }, dot: TValue): void {
    const mark = this.#vars.length;
    // The pipeline declares (:=) or assigns (=) its variables first, as Go's evalPipeline does.
    const value = this.pipe(node.pipe, dot);
    const decl = node.pipe.decl;
    const items: [TValue, TValue][] = [];
    if (Array.isArray(value)) value.forEach((v, i) => items.push([new GoInt(BigInt(i)), v]));
    else if (value instanceof Map) for (const k of sortedKeys(value)) items.push([k, value.get(k)]);
    else if (value instanceof GoInt) {
      if (decl.length > 1) fail(`can't use ${value.value} to iterate over more than one variable`);
      if (value.value > BigInt(MAX_STEPS)) fail('template too expensive');
      for (let i = 0n; i < value.value; i++) items.push([undefined, new GoInt(i, value.type)]);
    } else if (value !== undefined && value !== null) fail(`range can't iterate over ${sprintValue(value)}`);
    const inner = this.#vars.length;
    for (const [index, elem] of items) {
      this.#tick();
      if (node.pipe.assign) {
        if (decl.length === 1) this.#assign(decl[0]!, elem);
        if (decl.length === 2) {
          this.#assign(decl[0]!, index);
          this.#assign(decl[1]!, elem);
        }
      } else {
        if (decl.length === 1) this.#vars[mark]![1] = elem;
        if (decl.length === 2) {
          this.#vars[mark]![1] = index;
          this.#vars[mark + 1]![1] = elem;
        }
      }
      let stop = false;
      try {
        this.walk(node.list, elem);
      } catch (signal) {
        if (signal === null || typeof signal !== 'object' || !('t' in signal)) throw signal;
        stop = (signal as Node).t === 'break';
      }
      this.#vars.length = inner;
      if (stop) break;
    }
    if (items.length === 0 && node.else) this.walk(node.else, dot);
    this.#vars.length = mark;
  }

  /** `$name = value`: the innermost variable of that name. */
  #assign(name: string, value: TValue): void {
    let i = this.#vars.length - 1;
    while (i >= 0 && this.#vars[i]![0] !== name) i--;
    if (i < 0) fail(`undefined variable: ${name}`);
    this.#vars[i]![1] = value;
  }

  #lookup(name: string): TValue {
    for (let i = this.#vars.length - 1; i >= 0; i--) if (this.#vars[i]![0] === name) return this.#vars[i]![1];
    return fail(`undefined variable: ${name}`);
  }

  pipe(pipe: Pipe, dot: TValue): TValue {
    let value: TValue = undefined;
    let first = true;
    for (const cmd of pipe.cmds) {
      value = this.#command(cmd, dot, first ? undefined : { value });
      // Go digs into an interface{} result: a nil inside becomes "no value".
      if (value === null) value = undefined;
      first = false;
    }
    for (const name of pipe.decl) {
      if (pipe.assign) {
        this.#assign(name, value);
      } else {
        this.#vars.push([name, value]);
      }
    }
    return value;
  }

  #command(cmd: Arg[], dot: TValue, piped: { value: TValue } | undefined): TValue {
    const head = cmd[0]!;
    if (head.t === 'fn') {
      if (LAZY.has(head.name)) {
        const thunks = cmd.slice(1).map((a) => () => this.#arg(a, dot));
        if (piped) thunks.push(() => piped.value);
        if (thunks.length === 0) fail(`wrong number of args for ${head.name}`);
        let v: TValue = undefined;
        for (const thunk of thunks) {
          v = thunk();
          if (head.name === 'and' ? !isTrue(v) : isTrue(v)) return v;
        }
        return v;
      }
      const args = cmd.slice(1).map((a) => this.#arg(a, dot));
      if (piped) args.push(piped.value);
      return FUNCS[head.name]!(args);
    }
    if (piped) fail('non-function command in a pipeline');
    if (head.t === 'const' && head.value === null) fail('nil is not a command');
    return this.#arg(head, dot);
  }

  #arg(arg: Arg, dot: TValue): TValue {
    switch (arg.t) {
      case 'dot':
        return dot;
      case 'const':
        return arg.value;
      case 'fn':
        return FUNCS[arg.name] ? FUNCS[arg.name]!([]) : fail(`wrong number of args for ${arg.name}`);
      case 'field':
        return fields(dot, arg.names);
      case 'var':
        return fields(this.#lookup(arg.name), arg.names);
      case 'pipe':
        return fields(this.pipe(arg.pipe, dot), arg.names);
    }
  }
}

/** text/template's evalField over a chain: maps by key; a missing key is "no value". */
function fields(receiver: TValue, names: readonly string[]): TValue {
  let v = receiver;
  for (const name of names) {
    if (v === undefined) return undefined;
    if (v === null) fail(`nil pointer evaluating interface {}.${name}`);
    if (!(v instanceof Map)) fail(`can't evaluate field ${name} in type ${typeOf(v)}`);
    v = (v as Map<string, TValue>).has(name) ? (v as Map<string, TValue>).get(name) : undefined;
  }
  return v;
}

/** Parsed templates, bounded by count and by total template length. */
const memo = new BoundedMemo<{ main: Node[]; templates: ReadonlyMap<string, Node[]> }>(128, 1 << 20);

/** strings.render_template. @throws BuiltinError for what Go reports as an error or gatehouse does not support. */
export function renderTemplate(builtin: string, template: string, vars: RegoValue): string {
  try {
    const parsed = memo.get(template, () => {
      const parser = new Parser(scan(template));
      const main = parser.parse();
      return { main, templates: parser.defines };
    });
    const data = fromRego(vars);
    const exec = new Exec(data, parsed.templates);
    exec.walk(parsed.templates.get(MAIN) ?? parsed.main, data);
    return exec.out.replaceAll('<no value>', '<undefined>');
  } catch (error) {
    if (error instanceof TemplateError) throw new BuiltinError(builtin, `template: ${error.message}`);
    throw error;
  }
}
