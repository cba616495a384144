/**
 * The decision-cache key: the bundle digest plus the values, in the input document, of the fields
 * the policy reads. The encoding is JSON of a fixed-shape array, `[digest, slot, slot, ...]`, one
 * slot per field in a fixed order: `0` when the field is absent, `[value]` when present. JSON
 * escaping is injective, so no two different field sets produce the same key (no separator
 * injection), and distinct code points stay distinct (no normalisation of look-alikes).
 *
 * Values are read from the input document the policy is evaluated on, after gatehouse's own
 * parsing, so computed fields (parsed_path, identity, ...) need no mapping back to the request.
 * The policy receives that document as JSON.stringify output, so two inputs whose key fields
 * serialise identically look identical to the policy at those fields.
 */

/** The key, or undefined when it would be longer than `maxKeyChars` (the Check is not cached). */
export function cacheKey(digest: string, fields: readonly (readonly string[])[], input: unknown, maxKeyChars: number): string | undefined {
  const slots: unknown[] = [digest];
  for (const path of fields) {
    const value = valueAt(input, path);
    slots.push(value === undefined ? 0 : [value]);
  }
  const key = JSON.stringify(slots);
  return key.length > maxKeyChars ? undefined : key;
}

/** The value at `path`, as Rego's `input.a.b` sees it: only object keys, never array properties. */
export function valueAt(root: unknown, path: readonly string[]): unknown {
  let node = root;
  for (const segment of path) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(node, segment)) return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return node;
}
