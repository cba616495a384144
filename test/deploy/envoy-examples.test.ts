/**
 * The deployment examples stay working: each Envoy configuration under deploy/envoy passes the
 * real Envoy's `--mode validate` (the whole bootstrap parsed and every extension resolved, unknown
 * fields refused), the excerpt docs/deploy.md shows is a verbatim part of one of them, and every
 * repository path docs/deploy.md names exists.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/tools.js';
import { envoyOrSkip } from '../e2e/envoy.js';

const tool = envoyOrSkip();
const ENVOY_DIR = path.join(ROOT, 'deploy/envoy');
const configs = readdirSync(ENVOY_DIR).filter((f) => f.endsWith('.yaml'));
const doc = readFileSync(path.join(ROOT, 'docs/deploy.md'), 'utf8');

describe.skipIf(tool.skip)(`the deployment examples (Envoy ${tool.version})`, () => {
  it.each(configs)('deploy/envoy/%s is a valid Envoy configuration', (file) => {
    const result = spawnSync(tool.envoy, ['--mode', 'validate', '-c', path.join(ENVOY_DIR, file), '--log-level', 'error'], { encoding: 'utf8' });
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain(`configuration '${path.join(ENVOY_DIR, file)}' OK`);
  });

  it('shows in docs/deploy.md only Envoy excerpts taken verbatim from those files', () => {
    const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((block) => block.includes('envoy.filters.http.ext_authz'));
    expect(blocks.length).toBeGreaterThan(0);
    const sources = configs.map((f) => readFileSync(path.join(ENVOY_DIR, f), 'utf8'));
    for (const block of blocks) expect(sources.some((source) => source.includes(block)), block).toBe(true);
  });

  it('names only repository paths that exist', () => {
    const named = new Set([...doc.matchAll(/\]\(\.\.\/([^)#]+)[)#]/g)].map((m) => m[1]!).concat([...doc.matchAll(/`((?:deploy|envoy|test|scripts|observability|examples)\/[\w./-]+)`/g)].map((m) => m[1]!)));
    expect(named.size).toBeGreaterThan(10);
    for (const file of named) expect(existsSync(path.join(ROOT, file)), file).toBe(true);
  });
});
