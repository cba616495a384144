/**
 * check, test and replay read a local bundle; their help must not promise the URLs serve polls,
 * and a URL gets a usage error saying what to do (before: "ENOENT ... stat 'http://...'").
 */
import { describe, expect, it } from 'vitest';
import { run } from '../support/cli.js';

describe('offline commands and a bundle URL', () => {
  it.each(['check', 'test', 'replay'])('%s: help names a file or directory, not a URL', (command) => {
    const help = run('help', command);
    expect(help.status).toBe(0);
    const bundleHelp = help.stdout.slice(help.stdout.indexOf('--bundle <BUNDLE>'), help.stdout.indexOf('--entrypoint')).replace(/\s+/g, ' ');
    expect(bundleHelp).toContain('a .tar.gz file or a directory');
    expect(bundleHelp).not.toContain('http(s)://');
  });

  it.each([
    ['check', '--request', 'examples/check-request.json'],
    ['test', 'decisions/mesh.yaml'],
    ['replay', 'package.json'],
  ])('%s --bundle https://... is a usage error saying to download it', (command, ...rest) => {
    const result = run(command, '--bundle', 'https://bundles.example.com/bundle.tar.gz', ...rest);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('gatehouse: --bundle https://bundles.example.com/bundle.tar.gz: ');
    expect(result.stderr).toContain('reads a local bundle (a .tar.gz file or a directory), not a URL: download it first');
  });

  it('serve still documents bundle URLs', () => {
    expect(run('help', 'serve').stdout).toContain('http(s):// URL');
  });
});
