/**
 * The JSON nesting bound: the policy, the cache key and the decision log all walk parsed JSON
 * recursively, so bodies (and multipart parts) nested deeper than `max_json_depth` are refused.
 */
import { GatehouseError } from '../errors.js';

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
