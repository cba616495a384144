/**
 * Parsing a JSON body or multipart part, bounded: the policy, the cache key and the decision log
 * all walk parsed JSON recursively, so texts nested deeper than `max_json_depth` are refused; and
 * a number a double cannot hold is refused too (in every hygiene mode: it is a fail-open, not a
 * preference). JSON.parse turns `1e400` into Infinity, which the input serialises as `null`, and
 * `null <= 1000` holds in Rego, so an allow-list on the amount would pass a request that
 * opa-envoy-plugin (arbitrary-precision numbers) and the backend read as huge.
 */
import { GatehouseError } from '../errors.js';
import type { Json } from './proto-json.js';

/** The default and the most `max_json_depth` allows. */
export const MAX_JSON_DEPTH = 128;

/** Throws input_parse_error when `text` nests arrays/objects deeper than `maxDepth` (strings skipped). */
export function checkJsonDepth(text: string, what: string, maxDepth: number): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) throw new GatehouseError('input_parse_error', `${what} nests JSON deeper than ${maxDepth} levels`);
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
}

/**
 * Text that may hold a number beyond a double's range (about 1.8e308): an exponent of three or
 * more digits, or 200 digits in a row (with an exponent of at most 99, a number needs 210 integer
 * digits to overflow). Clean text fails this one scan and is parsed without a reviver.
 */
const MAYBE_HUGE = /[eE][+-]?\d{3}|\d{200}/;

/** `what` ("request body", `multipart part "meta"`) parsed as JSON, depth-checked; numbers finite. */
export function parseJson(text: string, what: string, maxDepth: number): Json {
  checkJsonDepth(text, what, maxDepth);
  let huge: string | undefined;
  let parsed: Json;
  try {
    parsed = MAYBE_HUGE.test(text)
      ? (JSON.parse(text, (key, value: unknown) => {
          if (typeof value === 'number' && !Number.isFinite(value)) huge ??= key;
          return value;
        }) as Json)
      : (JSON.parse(text) as Json);
  } catch (error) {
    throw new GatehouseError('input_parse_error', `${what} is not valid JSON: ${(error as Error).message}`);
  }
  if (huge !== undefined) {
    throw new GatehouseError('input_parse_error', `${what} holds a number too large for a double${huge === '' ? '' : ` (key ${JSON.stringify(huge.slice(0, 80))})`}; the policy would see null`);
  }
  return parsed;
}
