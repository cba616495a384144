/** `gatehouse builtins`, and the table in docs/policies.md that it generates. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../support/cli.js';
import { ROOT } from '../support/tools.js';

describe('gatehouse builtins', () => {
  it('lists every builtin with how it is evaluated, JWT and time among the host ones', () => {
    const result = run('builtins', '--format', 'json');
    expect(result.status).toBe(0);
    const rows = (JSON.parse(result.stdout) as { builtins: { name: string; how: string; nondeterministic: boolean }[] }).builtins;
    const how = new Map(rows.map((r) => [r.name, r.how]));
    expect(how.get('io.jwt.decode_verify')).toBe('host');
    expect(how.get('time.now_ns')).toBe('host');
    expect(how.get('regex.match')).toBe('wasm');
    expect(how.get('print')).toBe('host');
    expect(how.get('http.send')).toBe('refused');
    expect(rows.find((r) => r.name === 'time.now_ns')?.nondeterministic).toBe(true);
  });

  it('prints a readable text list by default and refuses an unknown format', () => {
    const text = run('builtins');
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^io\.jwt$/m);
    expect(text.stdout).toMatch(/http\.send\s+refused\s+it makes a network call/);
    const bad = run('builtins', '--format', 'xml');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--format must be text, json or markdown');
  });

  it('docs/policies.md carries the current table (regenerate with "npm run docs:builtins")', () => {
    const doc = readFileSync(path.join(ROOT, 'docs/policies.md'), 'utf8');
    const table = run('builtins', '--format', 'markdown').stdout;
    const start = doc.indexOf('\n', doc.indexOf('<!-- builtins:start')) + 1;
    expect(doc.slice(start, doc.indexOf('<!-- builtins:end -->'))).toBe(table);
  });
});
