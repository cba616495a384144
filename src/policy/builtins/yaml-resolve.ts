/**
 * go-yaml v2's reading of plain scalars (resolve.go): YAML 1.1 booleans and nulls, Go's integer and
 * float syntax (base prefixes, leading-zero octal, underscores), timestamps, and strconv's float
 * formatting, shared by yaml.unmarshal (reading) and yaml.marshal (deciding what must be quoted).
 * https://pkg.go.dev/gopkg.in/yaml.v2
 */

export const TAG = 'tag:yaml.org,2002:';

export type Resolved = { tag: 'str' | 'bool' | 'null' | 'int' | 'float' | 'merge' | 'timestamp'; value: unknown };

/** go-yaml v2 decodes a timestamp into interface{} as its original text. */
export const timestampAsText = (r: Resolved): Resolved => (r.tag === 'timestamp' ? { tag: 'str', value: r.value } : r);

const TIMESTAMP = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?))?$/;

/** go-yaml v2's parseTimestamp: the layouts it accepts, with time.Parse's range checks. */
function isTimestamp(s: string): boolean {
  const m = TIMESTAMP.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (mo < 1 || mo > 12 || d < 1 || d > new Date(Date.UTC(y, mo, 0)).getUTCDate()) return false;
  const h = Number(m[4] ?? m[7] ?? 0);
  const mi = Number(m[5] ?? m[8] ?? 0);
  const se = Number(m[6] ?? m[9] ?? 0);
  return h < 24 && mi < 60 && se < 60;
}

export const MAP: Record<string, Resolved> = {};
const put = (tag: Resolved['tag'], value: unknown, words: string[]) => words.forEach((w) => (MAP[w] = { tag, value }));
put('bool', true, ['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']);
put('bool', false, ['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']);
put('null', null, ['', '~', 'null', 'Null', 'NULL']);
put('float', NaN, ['.nan', '.NaN', '.NAN']);
put('float', Infinity, ['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF']);
put('float', -Infinity, ['-.inf', '-.Inf', '-.INF']);
put('merge', '<<', ['<<']);

const INT64_MIN = -(1n << 63n);
export const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;
const YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const GO_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+\.?[0-9]*)([eE][-+]?[0-9]+)?$/;

/** strconv.ParseInt(s, 0, 64) / ParseUint: sign (signed only), base prefix, digits. */
function goParseInt(s: string, signed: boolean): bigint | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m || (!signed && m[1] !== '')) return undefined;
  let digits = m[2]!;
  if (/^0[oO]/.test(digits)) digits = `0o${digits.slice(2)}`;
  else if (/^0[0-7]+$/.test(digits)) digits = `0o${digits.slice(1)}`;
  const n = BigInt(digits.replace(/^0X/, '0x').replace(/^0B/, '0b'));
  const v = m[1] === '-' ? -n : n;
  if (signed ? v < INT64_MIN || v > INT64_MAX : v > UINT64_MAX) return undefined;
  return v;
}

/** strconv.ParseFloat for decimal text; undefined when Go reports an error (syntax or range). */
function goParseFloat(s: string): number | undefined {
  if (!GO_FLOAT.test(s)) return undefined;
  const f = Number(s);
  return Number.isFinite(f) ? f : undefined;
}

/** go-yaml v2's resolve() for an untagged plain scalar. */
export function resolvePlain(text: string): Resolved {
  const hit = Object.hasOwn(MAP, text) ? MAP[text] : undefined;
  if (hit) return hit;
  const c = text[0] ?? '';
  if (c === '.') {
    const f = goParseFloat(text);
    if (f !== undefined) return { tag: 'float', value: f };
  } else if (c === '+' || c === '-' || (c >= '0' && c <= '9')) {
    if (isTimestamp(text)) return { tag: 'timestamp', value: text };
    const plain = text.replaceAll('_', '');
    const i = goParseInt(plain, true) ?? goParseInt(plain, false);
    if (i !== undefined) return { tag: 'int', value: i };
    if (YAML_FLOAT.test(plain)) {
      const f = goParseFloat(plain);
      if (f !== undefined) return { tag: 'float', value: f };
    }
    const bin = /^(-?)0b([01]+)$/.exec(plain);
    if (bin) {
      const n = (bin[1] ? -1n : 1n) * BigInt(`0b${bin[2]}`);
      if (n >= INT64_MIN && n <= UINT64_MAX) return { tag: 'int', value: n };
    }
  }
  return { tag: 'str', value: text };
}

/** strconv.FormatFloat(f, 'g', -1, 64|32). */
export function goFormatFloat(f: number, size: 'float64' | 'float32' = 'float64'): string {
  if (Number.isNaN(f)) return 'NaN';
  if (!Number.isFinite(f)) return f > 0 ? '+Inf' : '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  // the shortest digits that read back as the same float (of that size)
  let digits = '';
  for (let p = 1; p <= 17; p++) {
    const s = f.toExponential(p - 1);
    if ((size === 'float32' ? Math.fround(Number(s)) : Number(s)) === f) {
      digits = s;
      break;
    }
  }
  const [mant, expText] = digits.split('e') as [string, string];
  const exp = Number(expText);
  if (exp < -4 || exp >= 6) {
    const e = Math.abs(exp);
    return `${mant}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${e}`;
  }
  return Number(digits).toString();
}
