/**
 * The command line as users meet it (issue 18): `gatehouse` runnable by name, help for every
 * command, "did you mean" for commands and flags, switches, one exit status per kind of outcome.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addConfigFlags, ALL_CONFIG_KEYS, flagValues } from '../../src/commands/config-flags.js';
import { loadConfig } from '../../src/config/load.js';
import { CONFIG_KEYS, flagName } from '../../src/config/schema.js';
import { MAIN, run } from '../support/cli.js';
import { ROOT } from '../support/tools.js';

const COMMANDS = ['serve', 'check', 'call', 'build', 'builtins', 'test', 'replay', 'learn', 'version', 'help'];

describe('gatehouse by name', () => {
  it('package.json bin is dist/main.js, executable, with a node shebang', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(path.join(ROOT, pkg.bin.gatehouse)).toBe(MAIN);
    expect(readFileSync(MAIN, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    accessSync(MAIN, constants.X_OK);
    const direct = spawnSync(MAIN, ['version'], { encoding: 'utf8', cwd: ROOT });
    expect(direct.stdout).toBe(`${pkg.version}\n`);
    expect(direct.status).toBe(0);
  });

  it('"npx gatehouse", as the README writes it, runs this checkout\'s build', () => {
    // --no-install: never the unrelated registry package of the same name, whatever happens.
    const result = spawnSync('npx', ['--no-install', 'gatehouse', 'version'], { encoding: 'utf8', cwd: path.join(ROOT, 'docs') });
    expect(result.stdout).toBe(`${JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version}\n`);
    expect(result.status).toBe(0);
  });
});

describe('help', () => {
  it('a reader that is gone (help serve | true) is no error: no stack trace, exit 0', () => {
    // `true` exits without reading, so every write gatehouse makes meets a closed pipe (EPIPE).
    const errFile = path.join(tmpdir(), `gatehouse-epipe-${process.pid}.txt`);
    const result = spawnSync('bash', ['-c', `"${process.execPath}" "${MAIN}" help serve 2>"${errFile}" | true; echo "\${PIPESTATUS[0]}"`], { encoding: 'utf8', cwd: ROOT });
    expect(result.stdout.trim()).toBe('0');
    expect(readFileSync(errFile, 'utf8')).toBe('');
  });

  it('lists every command, and each has its own help, the same as COMMAND --help', () => {
    const overview = run('help');
    expect(overview.status).toBe(0);
    for (const name of COMMANDS) expect(overview.stdout).toMatch(new RegExp(`^  gatehouse ${name}\\b`, 'm'));
    expect(run().stdout).toBe(overview.stdout);
    for (const name of COMMANDS) {
      const help = run('help', name);
      expect(help.status, name).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^Usage: gatehouse ${name}\\b`));
      if (name !== 'help') expect(run(name, '--help').stdout).toBe(help.stdout);
    }
  });

  it('help serve lists every configuration key once, each fact once', () => {
    const help = run('help', 'serve').stdout;
    for (const key of Object.keys(CONFIG_KEYS)) expect(help).toContain(`--${flagName(key)} `);
    expect(help).not.toContain('(required) (required');
    expect(help).toMatch(/--bundle <BUNDLE> +policy bundle .*\(required;\s+env GATEHOUSE_BUNDLE\)/s);
    expect(help).toMatch(/--dry-run \[BOOL\] /);
  });

  it.each([
    [['help', 'bogus'], "unknown command 'bogus'", '(run "gatehouse help" for the commands)'],
    [['help', 'serv'], "unknown command 'serv'", '(Did you mean serve?)'],
    [['chek'], "unknown command 'chek'", '(Did you mean check?)'],
    [['serve', '--bundel', 'b.tar.gz'], "unknown option '--bundel'", '(Did you mean --bundle?)'],
    [['serve', '--dry-rnu'], "unknown option '--dry-rnu'", '(Did you mean --dry-run?)'],
    [['test', '--bundle', 'b', '--verbos', 't.yaml'], "unknown option '--verbos'", '(Did you mean --verbose?)'],
    [['check', '--bundle', 'b'], "required option '--request <FILE>' not specified", '(run "gatehouse help check" for its flags)'],
    [['replay', '--bundle', 'b'], "missing required argument 'DECISIONS.log'", ''],
    [['version', 'extra'], "too many arguments for 'version'", ''],
  ])('%j is a usage error: exit 2, the problem and a suggestion', (args, problem, suggestion) => {
    const result = run(...args);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`gatehouse: ${problem}`);
    expect(result.stderr).toContain(suggestion);
  });
});

describe('serve flags from config/schema.ts', () => {
  /** The flags as serve parses them, then validated as serve validates them. */
  const configFrom = (...args: string[]) => {
    const command = addConfigFlags(new Command('serve').exitOverride(), ALL_CONFIG_KEYS, true);
    command.parse(args, { from: 'user' });
    const values = flagValues(command);
    return loadConfig({ flags: values as Record<string, string | boolean | undefined>, env: {} });
  };

  it('a boolean key is a switch, takes an explicit value, and has --no-', () => {
    expect(configFrom('--bundle', 'b').dry_run).toBe(false);
    expect(configFrom('--bundle', 'b', '--dry-run').dry_run).toBe(true);
    expect(configFrom('--dry-run', '--bundle', 'b').dry_run).toBe(true);
    expect(configFrom('--bundle', 'b', '--dry-run', 'false').dry_run).toBe(false);
    expect(configFrom('--bundle', 'b').watch).toBe(true);
    expect(configFrom('--bundle', 'b', '--no-watch').watch).toBe(false);
    expect(configFrom('--bundle', 'b', '--watch', 'false').watch).toBe(false);
    expect(configFrom('--bundle', 'b', '--watch=false').watch).toBe(false);
    expect(configFrom('--bundle', 'b', '--no-watch', '--watch').watch).toBe(true);
  });

  it('values keep their validation and messages', () => {
    expect(configFrom('--bundle', 'b', '--max-body-bytes', '10', '--trust-domains', 'a.example,b.example')).toMatchObject({ max_body_bytes: 10, trust_domains: ['a.example', 'b.example'] });
    expect(() => configFrom('--bundle', 'b', '--dry-run', 'maybe')).toThrow('dry_run (flag --dry-run) must be true or false, got "maybe"');
  });

  it('through the real binary: a bad switch value is a configuration error, exit 2', () => {
    const result = run('serve', '--bundle', 'b.tar.gz', '--dry-run', 'maybe');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('dry_run (flag --dry-run) must be true or false, got "maybe"');
  });
});
