/**
 * `gatehouse serve --config FILE` through the real binary: a bad file stops start-up with exit 2
 * and a message at the file's bad line and column (issue 18: a stray indentation on line 4 was
 * reported at line 3, column 9), before anything listens.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireBuiltCli, run } from '../support/cli.js';
import { tempDir } from '../support/policy.js';
requireBuiltCli();

function serveWith(yaml: string, ...args: string[]) {
  const file = path.join(tempDir(), 'gatehouse.yaml');
  writeFileSync(file, yaml);
  return { file, result: run('serve', '--config', file, '--addr', '127.0.0.1:0', '--admin-addr', 'off', ...args) };
}

describe('serve --config with a bad file', () => {
  it('a stray indentation: exit 2 at the indented line, with the line shown', () => {
    const { file, result } = serveWith('log_level: info\naddr: ":9191"\nbundle: b.tar.gz\n  max_body_bytes: 10\n');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`${file}:4:3: this line is indented under line 3`);
    expect(result.stderr).toContain('  4 |   max_body_bytes: 10');
    expect(result.stderr).not.toContain(':3:9');
  });

  it('a bad value: exit 2 naming the key, file:line:column and the fix', () => {
    const { file, result } = serveWith('bundle: b.tar.gz\nlog_level: verbose\n');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`log_level (key "log_level" in ${file}:2:12) must be one of trace, debug, info, warn, error, fatal, silent, got "verbose". Fix: set --log-level`);
  });

  it('a flag wins over the file and is named when it is the bad one', () => {
    const { result } = serveWith('bundle: b.tar.gz\nmax_body_bytes: 100\n', '--max-body-bytes', '-1');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('max_body_bytes (flag --max-body-bytes) must be between 0 and 67108864, got -1');
  });

  it('aliases that expand too far, and an empty --config: configuration errors with exit 2 (review)', () => {
    const rows = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (const [name, prev] of [['b', 'a'], ['c', 'b'], ['d', 'c'], ['e', 'd']]) rows.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    const { file, result } = serveWith(`${rows.join('\n')}\ntrust_domains: *e\n`);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^gatehouse: configuration error: config file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: the value of key`));
    const empty = run('serve', '--config', '', '--bundle', 'b.tar.gz', '--addr', '127.0.0.1:0', '--admin-addr', 'off');
    expect(empty.status).toBe(2);
    expect(empty.stderr).toContain('configuration error: --config was given an empty path. Fix:');
  });
});
