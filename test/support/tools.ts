/**
 * Locating the external tools tests need. Outside CI a missing tool skips the tests that need it,
 * with the command that installs it; in CI (CI=true) a missing tool fails them.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

export const ROOT = path.resolve(import.meta.dirname, '../..');

export function findOpa(): string | undefined {
  const local = path.join(ROOT, '.tools/bin/opa');
  if (existsSync(local)) return local;
  try {
    execFileSync('opa', ['version'], { stdio: 'ignore' });
    return 'opa';
  } catch {
    return undefined;
  }
}

/** The OPA binary, or a reason to skip (outside CI) that names the install command. */
export function opaOrSkip(): { opa: string; skip: false } | { opa: ''; skip: string } {
  const opa = findOpa();
  if (opa) return { opa, skip: false };
  const message = 'OPA CLI not found: run "./dev setup" (installs OPA 1.19.1 into .tools/bin with go install)';
  if (process.env.CI === 'true') throw new Error(`${message}; CI must not skip tests`);
  return { opa: '', skip: message };
}
