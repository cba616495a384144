/**
 * sprintf's operands as OPA hands them to Go's fmt (topdown/strings.go, builtinSprintf). OPA decides
 * on a number's text: an int64 when it parses as one, a float64 when it has a ".", a *big.Int when
 * it is all digits, else the text itself (1e-7 prints "1e-7", 2e308 "2e308"). A string stays a
 * string; anything else becomes its Rego text.
 *
 * Decoded Rego values no longer say how a number was written (1.0 and 1 are the same JS number),
 * so `goArg` uses JavaScript's shortest form, which is the text whenever the number came from JSON
 * written that way. `goArgsFromValueText` reads the operand array in the Rego value text the policy
 * hands the host (opa_value_dump keeps "1.0", "1e3" and "2e308"), which makes top-level numbers
 * exact; it is ready for a runtime that passes that text (see the proposal in the report of the
 * strings family).
 */
import { parseRegoValue } from '../rego-value.js';
import type { GoArg } from './go-fmt.js';
import { numberText, regoText } from './rego-text.js';
import type { RegoValue } from './types.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const NUMBER = /^-?[0-9]/;

/** OPA's rule on a number's text. */
function numberGoArg(text: string): GoArg {
  if (/^-?[0-9]+$/.test(text)) {
    const n = BigInt(text);
    return n >= INT64_MIN && n <= INT64_MAX ? { kind: 'int', value: n } : { kind: 'big', value: n };
  }
  if (text.includes('.')) {
    const value = Number(text);
    // json.Number.Float64 fails beyond float64: the text is passed instead.
    return Number.isFinite(value) ? { kind: 'float', value } : { kind: 'string', value: text };
  }
  return { kind: 'string', value: text };
}

/** A decoded Rego value as an operand (numbers by JavaScript's shortest text). */
export function goArg(value: RegoValue): GoArg {
  if (typeof value === 'string') return { kind: 'string', value };
  if (typeof value === 'number' || typeof value === 'bigint') return numberGoArg(numberText(value));
  return { kind: 'string', value: regoText(value) };
}

/**
 * The operands from the array's Rego value text (`[1.0,"a",{1,2}]`): top-level numbers keep their
 * text; other elements are decoded and passed as goArg does.
 * @throws SyntaxError when the text is not an array
 */
export function goArgsFromValueText(arrayText: string): GoArg[] {
  const text = arrayText.trim();
  if (!text.startsWith('[') || !text.endsWith(']')) throw new SyntaxError('sprintf operand 2 must be an array');
  const elements: string[] = [];
  let depth = 0;
  let start = 1;
  let inString = false;
  for (let i = 1; i < text.length - 1; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{' || c === '(') depth++;
    else if (c === ']' || c === '}' || c === ')') depth--;
    else if (c === ',' && depth === 0) {
      elements.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = text.slice(start, -1).trim();
  if (last !== '' || elements.length > 0) elements.push(last);
  return elements.map((element) => (NUMBER.test(element) ? numberGoArg(element) : goArg(parseRegoValue(element))));
}
