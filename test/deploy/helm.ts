/**
 * The chart tests' tools (scripts/ensure-helm.sh: the pinned Helm at .tools/bin/helm and
 * kubernetes-validate in .venv/), and the chart rendered into plain objects. Outside CI a missing helm skips those tests with the command that
 * installs it; in CI (CI=true) it fails them, like test/support/tools.ts does for OPA.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../support/tools.js';

export const CHART = path.join(ROOT, 'deploy/helm/gatehouse');
export const EXAMPLES = path.join(ROOT, 'deploy/helm/examples');

export function helmOrSkip(): { helm: string; validator: string; skip: false } | { helm: ''; validator: ''; skip: string } {
  const helm = path.join(ROOT, '.tools/bin/helm');
  const validator = path.join(ROOT, '.venv/bin/kubernetes-validate');
  if (existsSync(helm) && existsSync(validator)) return { helm, validator, skip: false };
  const message = 'helm or kubernetes-validate not found: run "./dev setup" (scripts/ensure-helm.sh installs the pinned helm into .tools/bin with go install, kubernetes-validate into .venv with pip)';
  if (process.env.CI === 'true') throw new Error(`${message}; CI must not skip tests`);
  console.warn(`skipping the chart tests: ${message}`);
  return { helm: '', validator: '', skip: message };
}

/** A Kubernetes object as rendered (loosely typed: the tests check the shapes they read). */
export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec?: any; data?: Record<string, string> };

/** `helm template` of the chart with a values file (or none) and `--set` pairs, as YAML text. */
export function renderText(helm: string, valuesFile?: string, set: string[] = []): string {
  const args = ['template', 'gh', CHART, '--namespace', 'authz', ...(valuesFile ? ['-f', valuesFile] : []), ...set.flatMap((s) => ['--set', s])];
  return execFileSync(helm, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `helm template` of the chart with a values file (or none) and `--set` pairs, as objects. */
export function render(helm: string, valuesFile?: string, set: string[] = []): K8sObject[] {
  const text = renderText(helm, valuesFile, set);
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`helm template rendered invalid YAML: ${doc.errors[0]!.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

/** `helm template` expected to fail: its stderr. */
export function renderError(helm: string, set: string[]): string {
  const result = spawnSync(helm, ['template', 'gh', CHART, ...set.flatMap((s) => ['--set', s])], { encoding: 'utf8' });
  if (result.status === 0) throw new Error(`helm template succeeded with ${set.join(' ')}`);
  return result.stderr;
}
