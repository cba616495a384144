/**
 * A binary from a Debian package that some tests need (nginx, chromium), as the scripts
 * scripts/ensure-<package>.sh install it: the first of `candidates` that exists, else the package's
 * name on PATH. Outside CI a missing binary skips the tests that need it, naming the install
 * command; in CI (CI=true) it throws, because CI must not skip them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export function debianBinaryOrSkip(name: string, candidates: readonly string[]): { path: string; skip: false } | { path: ''; skip: string } {
  for (const candidate of candidates) {
    if (existsSync(candidate)) return { path: candidate, skip: false };
  }
  try {
    return { path: execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim(), skip: false };
  } catch {
    const message = `${name} not found: run "./dev setup" (scripts/ensure-${name}.sh: apt-get install -y --no-install-recommends ${name})`;
    if (process.env.CI === 'true') throw new Error(`${message}; CI must not skip tests`);
    console.warn(`skipping: ${message}`);
    return { path: '', skip: message };
  }
}
