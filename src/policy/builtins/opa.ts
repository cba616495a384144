/**
 * Host builtins: opa.runtime, trace, internal.print (what `print(...)` compiles to with
 * --wasm-include-print) and the deprecated casts of v0 policies (topdown/runtime.go, trace.go,
 * print.go, casts.go).
 */
import { arrayArg, newObject, stringArg, typeName } from './args.js';
import { BuiltinError, type BuiltinFamily, type RegoValue } from './types.js';
import { regoText } from './rego-text.js';
import { ValueSet, sortedElements } from './value-order.js';

/** One print line per combination of the operands' values (each operand is a set; empty = undefined). */
function printLines(operands: RegoValue[]): string[] {
  const columns = operands.map((operand) => {
    if (typeof operand === 'string') return [operand];
    if (operand === null || typeof operand !== 'object') return [regoText(operand)];
    if (!(operand instanceof Set)) throw new BuiltinError('internal.print', `illegal argument type: ${typeName(operand)}`);
    if (operand.size === 0) return ['<undefined>'];
    return sortedElements(operand).map((v) => (typeof v === 'string' ? v : regoText(v)));
  });
  let lines: string[][] = [[]];
  for (const column of columns) lines = lines.flatMap((prefix) => column.map((cell) => [...prefix, cell]));
  return lines.map((cells) => cells.join(' '));
}

function cast(name: string, expected: string, accepts: (v: RegoValue) => boolean) {
  return {
    fn: (_ctx: unknown, value: RegoValue | undefined) => {
      if (value === undefined || !accepts(value)) throw new BuiltinError(name, `operand 1 must be ${expected} but got ${typeName(value)}`);
      return value;
    },
    note: 'Deprecated (v0 policies only).',
  };
}

const isObject = (v: RegoValue) => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Set);

export const opaBuiltins: BuiltinFamily = {
  'opa.runtime': {
    // topdown/runtime.go without a runtime: an empty object (OPA's own conformance cases expect it)
    fn: () => newObject(),
    note: 'An empty object, as OPA answers when it runs without a runtime: gatehouse has no OPA runtime config, and hands neither its environment (which may hold secrets) nor a version to policies. Policies that read `opa.runtime().env` or `.config` under the OPA server get undefined here.',
  },
  trace: {
    fn: (_ctx, note) => {
      stringArg('trace', 1, note);
      return true;
    },
    note: 'Returns true; the note is dropped, as in OPA when tracing is off (gatehouse has no explain mode).',
  },
  'internal.print': {
    fn: (ctx, operands) => {
      for (const line of printLines(arrayArg('internal.print', 1, operands))) ctx.print(line);
      return undefined;
    },
    note: 'One line per combination of the printed values, formatted as OPA does; lines go to the operational log with the decision id.',
  },
  cast_array: {
    fn: (_ctx, value) => {
      if (Array.isArray(value)) return value;
      if (value instanceof Set) return sortedElements(value);
      throw new BuiltinError('cast_array', `operand 1 must be one of {array, set} but got ${typeName(value)}`);
    },
    note: 'Deprecated (v0 policies only).',
  },
  cast_set: {
    fn: (_ctx, value) => {
      if (value instanceof Set) return value;
      if (!Array.isArray(value)) throw new BuiltinError('cast_set', `operand 1 must be one of {array, set} but got ${typeName(value)}`);
      const set = new ValueSet();
      for (const item of value) set.add(item);
      return set.toSet();
    },
    note: 'Deprecated (v0 policies only).',
  },
  cast_string: cast('cast_string', 'string', (v) => typeof v === 'string'),
  cast_boolean: cast('cast_boolean', 'boolean', (v) => typeof v === 'boolean'),
  cast_null: cast('cast_null', 'null', (v) => v === null),
  cast_object: cast('cast_object', 'object', isObject),
};

