/**
 * Duplicate keys in a JSON text. JSON.parse (and OPA's Go parser) keep the last of
 * `{"role":"admin","role":"user"}`; other parsers keep the first or refuse the document
 * (RFC 8259 §4 leaves it open), so a policy and a backend can read different values.
 *
 * Keys are compared as Go's encoding/json matches them to struct fields: case-insensitively
 * under Unicode simple case folding (bytes.EqualFold: "Amount" is "amount", "ſ" U+017F is "s",
 * "K" U+212A is "k"), the last match winning. `{"amount":50,"Amount":100000}` is 50 to the policy
 * and 100000 to a Go backend decoding into a struct.
 * https://pkg.go.dev/encoding/json#Unmarshal
 *
 * One pass over an already valid JSON text; keys compared after unescaping.
 */

/** The first key that repeats one in the same object, or undefined. `text` must be valid JSON. */
export function duplicateJsonKey(text: string): { key: string; first: string } | undefined {
  // One entry per open container: folded key → key as written, for an object; null for an array.
  const stack: (Map<string, string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const start = i;
      let escaped = false;
      let foldable = false; // an upper-case ASCII letter or a non-ASCII character: folding may change it
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x22) break;
        if (d === 0x5c) {
          escaped = true;
          i++;
        } else if ((d >= 0x41 && d <= 0x5a) || d >= 0x80) foldable = true;
      }
      if (expectKey) {
        const raw = text.slice(start + 1, i);
        const key = escaped ? (JSON.parse(text.slice(start, i + 1)) as string) : raw;
        const keys = stack[stack.length - 1]!;
        const folded = escaped || foldable ? foldKey(key) : key;
        const first = keys.get(folded);
        if (first !== undefined) return { key, first };
        keys.set(folded, key);
        expectKey = false;
      }
    } else if (c === 0x7b) {
      stack.push(new Map());
      expectKey = true;
    } else if (c === 0x5b) {
      stack.push(null);
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
    } else if (c === 0x2c) {
      expectKey = stack[stack.length - 1] instanceof Map;
    }
  }
  return undefined;
}

const NON_ASCII = /[^\u0000-\u007f]/;

/**
 * A key's representative under simple case folding: equal for keys bytes.EqualFold finds equal.
 * ASCII: lower case. Otherwise each code point goes to upper then lower case when both are one
 * code point ("ſ" → "S" → "s", "ς" → "Σ" → "σ", "K" → "k"); multi-character mappings ("ß" → "SS")
 * are not simple folds and leave the code point as it is.
 */
export function foldKey(key: string): string {
  if (!NON_ASCII.test(key)) return key.toLowerCase();
  let out = '';
  for (const ch of key) {
    const upper = ch.toUpperCase();
    const one = [...upper].length === 1 ? upper : ch;
    const lower = one.toLowerCase();
    out += [...lower].length === 1 ? lower : one;
  }
  return out;
}
