/**
 * Configuration errors, one per class: each names the key, where the value came from (the file's
 * line and column, the environment variable or the flag), the problem and a fix. YAML errors point
 * at the line that is wrong (issue 18: a stray indentation on line 4 was reported at line 3).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { tempDir } from '../support/policy.js';

/** Loads `yaml` as the config file; returns the error message (the test fails if it loads). */
function fileError(yaml: string, env: Record<string, string> = {}): { message: string; file: string } {
  const file = path.join(tempDir(), 'gatehouse.yaml');
  writeFileSync(file, yaml);
  try {
    loadConfig({ file, env, flags: {} });
  } catch (error) {
    expect(error).toMatchObject({ code: 'config_invalid' });
    return { message: (error as Error).message, file };
  }
  throw new Error(`loaded: ${yaml}`);
}

describe('YAML errors point at the bad line', () => {
  it('a stray indentation is reported at its own line, not at the value it runs into', () => {
    // The yaml package reports this at 3:9 (the start of "b.tar.gz"), which YAML folded line 4 into.
    const { message, file } = fileError('log_level: info\naddr: ":9191"\nbundle: b.tar.gz\n  max_body_bytes: 10\n');
    expect(message).toContain(`config file ${file}:4:3: this line is indented under line 3`);
    expect(message).toContain('Fix: start it in the same column');
    expect(message).toContain('  4 |   max_body_bytes: 10\n    |   ^');
  });

  it('a stray indentation that parses (folded into the value above) is refused, not read as "b.tar.gz watch: false"', () => {
    const { message, file } = fileError('bundle: b.tar.gz\n  - x\nwatch: false\n');
    expect(message).toContain(`config file ${file}:2:3: this line is indented under line 1`);
    const list = fileError('bundle: b\ntrust_domains:\n  - a.example\n   - b.example\n');
    expect(list.message).toContain(`config file ${list.file}:4:4: this line is indented under line 3, so YAML reads it as more of the value "a.example"`);
  });

  it('quoted and block values may span lines', () => {
    const file = path.join(tempDir(), 'gatehouse.yaml');
    writeFileSync(file, 'bundle: "b.tar.gz"\ninstance: >-\n  gate\n  house\ndecision_log: "/var/log/\n  decisions.log"\n');
    expect(loadConfig({ file, env: {}, flags: {} })).toMatchObject({ bundle: 'b.tar.gz', instance: 'gate house', decision_log: '/var/log/ decisions.log' });
  });

  it('a mapping item out of column, a repeated key and an unclosed quote at their lines', () => {
    const indent = fileError('bundle: b\naddr: ":9191"\n  max_body_bytes: 10\n');
    expect(indent.message).toContain(`config file ${indent.file}:3:3: All mapping items must start at the same column`);
    const twice = fileError('bundle: b\nwatch: true\nbundle: c\n');
    expect(twice.message).toContain(`config file ${twice.file}:3:1: key "bundle" is already set on line 1`);
    const quote = fileError('bundle: b\ninstance: "gate\nwatch: true\n');
    expect(quote.message).toContain(`config file ${quote.file}:2:11: this quote is never closed`);
  });
  it('a config file that cannot be read names the file and the fix', () => {
    const missing = path.join(tempDir(), 'nope.yaml');
    expect(() => loadConfig({ file: missing, env: {}, flags: { bundle: 'b' } })).toThrow(
      new RegExp(`^cannot read config file ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ENOENT.*\\. Fix: check the path given to --config`),
    );
  });
  it('an empty --config path is an error, not silently no file (--config "$UNSET_VARIABLE")', () => {
    expect(() => loadConfig({ file: '', env: {}, flags: { bundle: 'b' } })).toThrow('--config was given an empty path. Fix: pass the config file\'s path, or leave --config out');
  });
});

describe('each class of bad value names the key, its origin and the fix', () => {
  it('an unknown key, with a suggestion and its line', () => {
    const { message, file } = fileError('bundle: b\n\nlog_levle: info\n');
    expect(message).toBe(`unknown key "log_levle" in config file ${file}:3:1; did you mean "log_level"? Fix: rename it (every key: gatehouse help serve)`);
    expect(fileError('bundle: b\nMax-Body-Bytes: 1\n').message).toContain('did you mean "max_body_bytes"?');
    const far = fileError('bundle: b\nfrobnicate: 1\n').message;
    expect(far).toContain('unknown key "frobnicate"');
    expect(far).toContain('(known keys: addr, admin_addr,');
  });

  it('did you mean, for an environment variable name pasted into the file and a key missing its unit or _file', () => {
    expect(fileError('bundle: b\nGATEHOUSE_LOG_LEVEL: debug\n').message).toContain('unknown key "GATEHOUSE_LOG_LEVEL" in config file');
    expect(fileError('bundle: b\nGATEHOUSE_LOG_LEVEL: debug\n').message).toContain('did you mean "log_level"?');
    expect(fileError('bundle: b\ntls_cert: c.pem\n').message).toContain('did you mean "tls_cert_file"?');
    expect(fileError('bundle: b\nshutdown_drain: 5\n').message).toContain('did you mean "shutdown_drain_ms"?');
  });

  it('a YAML merge key (<<) says it is not supported, not "unknown key" with every key listed', () => {
    const { message, file } = fileError('defaults: &d {log_level: debug}\nbundle: b\n<<: *d\n');
    expect(message).toBe(`config file ${file}:3:1: merge keys (<<, YAML 1.1) are not supported. Fix: write the keys out`);
  });

  it('a YAML 1.1 boolean (yes, on, off) is refused with why: gatehouse reads YAML 1.2, where they are text', () => {
    expect(fileError('bundle: b\nwatch: yes\n').message).toContain(
      ':2:8) must be true or false, got "yes" (YAML 1.2 reads yes/no/on/off as text: write true or false). Fix: set --watch',
    );
    expect(fileError('bundle: b\ndry_run: Off\n').message).toContain('got "Off" (YAML 1.2 reads yes/no/on/off as text: write true or false)');
    expect(fileError('bundle: b\nwatch: maybe\n').message).toContain('must be true or false, got "maybe". Fix:');
    expect(() => loadConfig({ flags: { bundle: 'b' }, env: { GATEHOUSE_WATCH: 'yes' } })).toThrow('watch (environment variable GATEHOUSE_WATCH) must be true or false, got "yes". Fix:');
  });

  it('a wrong type', () => {
    const { message, file } = fileError('bundle: b\nmax_body_bytes: lots\n');
    expect(message).toBe(
      `max_body_bytes (key "max_body_bytes" in ${file}:2:17) must be an integer, got "lots". Fix: set --max-body-bytes (or GATEHOUSE_MAX_BODY_BYTES, or "max_body_bytes:" in the config file), e.g. 1048576`,
    );
    expect(fileError('bundle: b\nwatch: yes\n').message).toContain('watch (key "watch" in');
    expect(fileError('bundle: b\nwatch: yes\n').message).toContain(':2:8) must be true or false, got "yes"');
    expect(fileError('bundle: [a]\n').message).toContain(':1:9) must be a string, got ["a"]');
    expect(fileError('bundle: b\ninstance: 7\n').message).toContain(':2:11) must be a string (quote it), got 7');
    expect(fileError('bundle: b\ninstance: ""\n').message).toContain(':2:11) must not be empty, got ""');
    expect(fileError('bundle: b\ntrust_domains: {a: 1}\n').message).toContain('must be a list of strings, got {"a":1}');
    expect(fileError('bundle:\n').message).toMatch(/^bundle \(key "bundle" in .*:1:8\) has no value\. Fix: set --bundle/);
  });

  it('out of range', () => {
    expect(fileError('bundle: b\nmax_wasm_memory_mb: 1\n').message).toMatch(/max_wasm_memory_mb \(key "max_wasm_memory_mb" in .*:2:21\) must be between 2 and 4096, got 1\. Fix: set --max-wasm-memory-mb/);
  });

  it('a value outside an enum, with a suggestion', () => {
    expect(fileError('bundle: b\nlog_level: INFO\n').message).toContain('must be one of trace, debug, info, warn, error, fatal, silent, got "INFO"; did you mean "info"? Fix: set --log-level');
    expect(fileError('bundle: b\nrequest_hygiene: stric\n').message).toContain('got "stric"; did you mean "strict"?');
    expect(fileError('bundle: b\nrequest_hygiene: lax\n').message).toContain('must be one of strict, compatible, got "lax". Fix:');
  });

  it('a list inside a list, and a bad item, at the item\'s line', () => {
    const nested = fileError('bundle: b\ntrust_domains:\n  - a.example\n  - [b.example, c.example]\n');
    expect(nested.message).toContain(
      `trust_domains (item 2 of key "trust_domains" in ${nested.file}:4:5) must be a string, got ["b.example","c.example"] (a list inside the list`,
    );
    const bad = fileError('bundle: b\ntls_allowed_clients:\n  - spiffe://mesh.local/a\n  - http://mesh.local/b\n');
    expect(bad.message).toContain(`tls_allowed_clients (item 2 of key "tls_allowed_clients" in ${bad.file}:4:5) has "http://mesh.local/b", which is not a SPIFFE ID`);
  });

  it('names the environment variable and the flag', () => {
    expect(() => loadConfig({ flags: { bundle: 'b' }, env: { GATEHOUSE_LOG_LEVEL: 'verbose' } })).toThrow(
      'log_level (environment variable GATEHOUSE_LOG_LEVEL) must be one of trace, debug, info, warn, error, fatal, silent, got "verbose"',
    );
    expect(() => loadConfig({ flags: { bundle: 'b', 'trust-domains': 'a.example,B!' }, env: {} })).toThrow(
      'trust_domains (flag --trust-domains) has "B!", which is not a trust domain',
    );
    expect(() => loadConfig({ flags: { bundle: 'b', 'decision-log-allow-sample-percent': '101' }, env: {} })).toThrow(
      'decision_log_allow_sample_percent (flag --decision-log-allow-sample-percent) must be between 0 and 100, got 101',
    );
    expect(() => loadConfig({ flags: { bundle: 'b' }, env: { GATEHOUSE_WORKERS: '0' } })).toThrow('workers (environment variable GATEHOUSE_WORKERS) must be auto or a whole number');
  });

  it('a huge integer from the environment is out of range, as in the file (not "must be an integer")', () => {
    expect(() => loadConfig({ flags: { bundle: 'b' }, env: { GATEHOUSE_MAX_BODY_BYTES: '99999999999999999999' } })).toThrow(
      'max_body_bytes (environment variable GATEHOUSE_MAX_BODY_BYTES) must be between 0 and 67108864, got 100000000000000000000',
    );
  });

  it('the flag wins over the environment, which wins over a bad file value (only the used value is checked)', () => {
    const file = path.join(tempDir(), 'gatehouse.yaml');
    writeFileSync(file, 'bundle: b\nlog_level: loud\n');
    expect(loadConfig({ file, env: { GATEHOUSE_LOG_LEVEL: 'debug' }, flags: {} }).log_level).toBe('debug');
  });
});

describe('positions and messages a new user meets (review)', () => {
  it('a file saved with a byte-order mark: columns count from the first real character', () => {
    // The BOM is no column of the file as an editor shows it: "log_leve" is at 1:1, not 1:2.
    const typo = fileError('\uFEFFlog_leve: info\nbundle: b\n');
    expect(typo.message).toContain(`unknown key "log_leve" in config file ${typo.file}:1:1;`);
    const value = fileError('\uFEFFlog_level: loud\nbundle: b\n');
    expect(value.message).toContain(`log_level (key "log_level" in ${value.file}:1:12) must be one of`);
  });

  it('YAML syntax errors say the fix: a tab at the tab, a repeated key with its first line, a second document', () => {
    const tab = fileError('bundle: b\n\tmax_body_bytes: 10\n');
    expect(tab.message).toContain(`config file ${tab.file}:2:1: Tabs are not allowed as indentation. Fix: indent with spaces`);
    // The caret line repeats the tab, so a terminal puts the caret under the same column as the text.
    expect(tab.message).toContain('  2 | \tmax_body_bytes: 10\n    | ^');
    const after = fileError('bundle: b\ntrust_domains:\n\t- a.example\n');
    expect(after.message).toContain(`config file ${after.file}:3:1: Tabs are not allowed as indentation. Fix: indent with spaces`);
    const twice = fileError('bundle: b\nwatch: true\nbundle: c\n');
    expect(twice.message).toContain(`config file ${twice.file}:3:1: key "bundle" is already set on line 1 (map keys must be unique). Fix: keep one of the two`);
    const docs = fileError('bundle: b\n---\nwatch: false\n');
    expect(docs.message).toContain(`config file ${docs.file}:2:1: a second YAML document starts here; a config file is one document. Fix: remove this "---" line`);
    expect(docs.message).not.toContain('parseAllDocuments');
    const other = fileError('bundle: b\ntrust_domains:\n  - a.example\n - b.example\n');
    expect(other.message).toMatch(/:4:2: .*\. Fix: /);
  });

  it('a YAML syntax error shows the line before it too, where the cause often is', () => {
    // Line 1 is indented, so line 2 (at column 1) is where yaml notices: both lines are shown.
    const { message, file } = fileError('  bundle: b\n\nwatch: true\n');
    expect(message).toContain(`config file ${file}:3:1: `);
    expect(message).toContain('  1 |   bundle: b\n  3 | watch: true\n    | ^');
  });

  it('workers given a YAML number or boolean that is not a worker count: the rule, not "quote it"', () => {
    // Quoting 2.5 or true would not help: the message is the one "2.5" or "true" gets.
    expect(fileError('bundle: b\nworkers: 2.5\n').message).toContain(':2:10) must be auto or a whole number from 1 to 256, got "2.5". Fix: set --workers');
    expect(fileError('bundle: b\nworkers: true\n').message).toContain(':2:10) must be auto or a whole number from 1 to 256, got "true". Fix: set --workers');
    expect(fileError('bundle: b\ninstance: 7\n').message).toContain('must be a string (quote it), got 7');
  });

  it('a value shown in an error: infinity as itself (JSON says null), a long one cut short', () => {
    expect(fileError('bundle: b\nmax_body_bytes: .inf\n').message).toContain('must be an integer, got Infinity. Fix:');
    const long = fileError(`bundle: b\nlog_level: ${'x'.repeat(100_000)}\n`).message;
    expect(long).toContain(`got "${'x'.repeat(100)}`);
    expect(long).toContain('(100002 characters)');
    expect(long.length).toBeLessThan(1000);
  });

  it('aliases that expand to too much (a "billion laughs" file) are a config error at the key, not a bare parser error', () => {
    const rows = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (const [name, prev] of [['b', 'a'], ['c', 'b'], ['d', 'c'], ['e', 'd']]) rows.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    const { message, file } = fileError(`bundle: b\n${rows.join('\n')}\ntrust_domains: *e\n`);
    expect(message).toMatch(new RegExp(`^config file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: the value of key "\\w+" uses aliases`));
    expect(message).toContain('Fix: write the value out');
  });

  it('a value nested deeper than the parser can go is a config error naming the file, not a bare RangeError', () => {
    const { message, file } = fileError(`bundle: b\ntrust_domains: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`);
    expect(message).toContain(`config file ${file}:2:`);
    expect(message).toContain('Maximum call stack size exceeded');
    expect(message).toContain('Fix:');
    expect(message.length).toBeLessThan(2000);
  });

  it('an alias without its anchor is a config error at the key, and says so', () => {
    const { message, file } = fileError('bundle: b\nlog_level: *level\n');
    expect(message).toContain(`config file ${file}:2:12: the value of key "log_level" is an alias (*name) with no anchor (&name) set before it`);
    expect(message).toContain('Fix: set the anchor before the alias, or write the value out');
    expect(message).not.toContain('copies');
  });

  it('a key written as an alias is the anchored text, as YAML reads it (it was reported as the key "{\"source\":...}")', () => {
    const file = path.join(tempDir(), 'gatehouse.yaml');
    writeFileSync(file, 'bundle: b\nbundle_verification_key_id: &k watch\n*k : false\n');
    expect(loadConfig({ file, env: {}, flags: {} })).toMatchObject({ bundle_verification_key_id: 'watch', watch: false });
    const typo = fileError('bundle: b\ninstance: &k log_levl\n*k : debug\n');
    expect(typo.message).toContain(`unknown key "log_levl" in config file ${typo.file}:3:1; did you mean "log_level"?`);
  });
});
