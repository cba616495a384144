/**
 * Result-set comparison as OPA's Wasm e2e test does it (assertResultSet in
 * internal/wasm/sdk/test/e2e/external_test.go): both sides become sets of binding objects, so row
 * order and repeated rows do not matter; numbers compare by value (1.0 = 1); with sort_bindings an
 * array binding is compared sorted.
 */

/** A deterministic text for a JSON-shaped value: object keys sorted, numbers in one form. */
export function canonical(value: unknown): string {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value).toString() : String(value);
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const entries = Object.keys(value).sort().map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`);
  return `{${entries.join(',')}}`;
}

export type Verdict = 'same' | 'order of a set or array' | 'big numbers' | 'result differs';

export function sameResultSet(want: readonly Record<string, unknown>[], got: readonly Record<string, unknown>[], sortBindings: boolean): Verdict {
  if (equalAsSets(rows(want, sortBindings, false), rows(got, sortBindings, false))) return 'same';
  // Not the same: say why, as far as it can be told from JSON.
  if (equalAsSets(rows(want, true, true), rows(got, true, true))) return 'order of a set or array';
  if (hasBigNumber(want) || hasBigNumber(got)) return 'big numbers';
  return 'result differs';
}

function rows(resultSet: readonly Record<string, unknown>[], sortBindings: boolean, sortDeep: boolean): Set<string> {
  return new Set(
    resultSet.map((row) => {
      const normalised: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(row)) {
        normalised[key] = sortDeep ? sortArrays(value) : sortBindings && Array.isArray(value) ? sortedArray(value) : value;
      }
      return canonical(normalised);
    }),
  );
}

function sortedArray(values: readonly unknown[]): unknown[] {
  return values.map((v) => [canonical(v), v] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}

function sortArrays(value: unknown): unknown {
  if (Array.isArray(value)) return sortedArray(value.map(sortArrays));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, sortArrays(v)]));
}

function equalAsSets(a: Set<string>, b: Set<string>): boolean {
  return a.size === b.size && [...a].every((row) => b.has(row));
}

function hasBigNumber(value: unknown): boolean {
  if (typeof value === 'bigint') return true;
  if (typeof value === 'number') return Number.isInteger(value) && !Number.isSafeInteger(value);
  if (value === null || typeof value !== 'object') return false;
  return Object.values(value).some(hasBigNumber);
}
