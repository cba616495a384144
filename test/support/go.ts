/**
 * Go programs for differential tests: a small reader written against the Go standard library
 * (as opa-envoy-plugin and OPA read requests and bundles), built once per test file.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

function findGo(): string | undefined {
  for (const candidate of ['go', '/usr/local/go/bin/go']) {
    try {
      execFileSync(candidate, ['version'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

/** The Go toolchain, or why the test is skipped (outside CI only: in CI a missing Go throws). */
export function goOrSkip(): { go: string; skip: false } | { go: ''; skip: string } {
  const go = findGo();
  if (go) return { go, skip: false };
  const skip = 'Go toolchain not found: install Go 1.22+ (the toolchain ./dev setup uses to install OPA)';
  if (process.env.CI === 'true') throw new Error(`${skip}; CI must not skip tests`);
  return { go: '', skip };
}

/**
 * Builds `source` (one main.go, standard library only) as module `module` in a new temp folder;
 * returns the binary's path. Throws with Go's compiler output (on stderr) when it does not build.
 */
export function buildGoProgram(go: string, module: string, source: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `gatehouse-go-${module}-`));
  writeFileSync(path.join(dir, 'main.go'), source);
  writeFileSync(path.join(dir, 'go.mod'), `module ${module}\n\ngo 1.22\n`);
  const binary = path.join(dir, 'reader');
  execFileSync(go, ['build', '-o', binary, '.'], { cwd: dir, env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' }, stdio: ['ignore', 'ignore', 'inherit'] });
  return binary;
}
