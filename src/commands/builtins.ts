/** `gatehouse builtins`: which Rego builtins gatehouse evaluates, and how (from policy/builtins/catalogue.ts). */
import { HOST_BUILTINS } from '../policy/builtins/all.js';
import { OPA_VERSION, REFUSED_BUILTINS, WASM_NATIVE_BUILTINS } from '../policy/builtins/catalogue.js';
import type { Io, Values } from './common.js';

export interface BuiltinRow {
  name: string;
  family: string;
  how: 'wasm' | 'host' | 'refused';
  nondeterministic: boolean;
  note?: string;
}

/** Every builtin in the catalogue, sorted by family then name. `print` is listed as policy authors write it. */
export function builtinRows(): BuiltinRow[] {
  const rows: BuiltinRow[] = [];
  for (const name of WASM_NATIVE_BUILTINS) {
    if (!name.startsWith('internal.')) rows.push({ name, family: familyOf(name), how: 'wasm', nondeterministic: false });
  }
  for (const [name, builtin] of HOST_BUILTINS) {
    const shown = name === 'internal.print' ? 'print' : name;
    rows.push({ name: shown, family: familyOf(shown), how: 'host', nondeterministic: builtin.nondeterministic === true, ...(builtin.note ? { note: builtin.note } : {}) });
  }
  for (const [name, reason] of REFUSED_BUILTINS) rows.push({ name, family: familyOf(name), how: 'refused', nondeterministic: true, note: reason });
  return rows.sort((a, b) => a.family.localeCompare(b.family) || a.name.localeCompare(b.name));
}

/** "io.jwt.decode" → "io.jwt", "crypto.x509.parse_certificates" → "crypto", "sprintf" → "core". */
function familyOf(name: string): string {
  if (name.startsWith('io.jwt.')) return 'io.jwt';
  const dot = name.indexOf('.');
  return dot < 0 ? 'core' : name.slice(0, dot);
}

export function formatBuiltins(rows: BuiltinRow[], format: string): string {
  if (format === 'json') return `${JSON.stringify({ opa_version: OPA_VERSION, builtins: rows }, null, 2)}\n`;
  const counts = `${rows.filter((r) => r.how === 'wasm').length} compiled into Wasm, ${rows.filter((r) => r.how === 'host').length} host, ${rows.filter((r) => r.how === 'refused').length} refused`;
  if (format === 'markdown') {
    const lines = [`OPA ${OPA_VERSION} builtins: ${counts}.`, '', '| family | builtin | evaluated | notes |', '|---|---|---|---|'];
    for (const row of rows) {
      lines.push(`| ${row.family} | \`${row.name}\`${row.nondeterministic && row.how !== 'refused' ? ' \\*' : ''} | ${row.how} | ${(row.note ?? '').replaceAll('|', '\\|')} |`);
    }
    return `${lines.join('\n')}\n`;
  }
  const width = Math.max(...rows.map((r) => r.name.length)) + 2;
  const lines: string[] = [];
  let family = '';
  for (const row of rows) {
    if (row.family !== family) {
      family = row.family;
      lines.push(`${lines.length > 0 ? '\n' : ''}${family}`);
    }
    const mark = row.nondeterministic && row.how !== 'refused' ? '*' : ' ';
    lines.push(`  ${(row.name + mark).padEnd(width)} ${row.how.padEnd(8)}${row.note ? ` ${row.note}` : ''}`);
  }
  lines.push('', `OPA ${OPA_VERSION}: ${counts}. * = result can change between evaluations (not cached by default).`);
  return `${lines.join('\n')}\n`;
}

/** Prints the builtin table in --format (text, json, markdown); 2 for an unknown format. */
export function builtins(values: Values, io: Io): number {
  const format = (values.format as string | undefined) ?? 'text';
  if (!['text', 'json', 'markdown'].includes(format)) {
    io.stderr(`gatehouse builtins: --format must be text, json or markdown, got ${JSON.stringify(format)}\n`);
    return 2;
  }
  io.stdout(formatBuiltins(builtinRows(), format));
  return 0;
}
