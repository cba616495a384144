/**
 * The central-mode instructions name one namespace everywhere: the `helm install -n` and
 * `kubectl -n` lines of docs/deploy.md and the central/Istio examples, and the Service host that
 * Envoy (deploy/envoy/central.yaml) and Istio's extension provider (docs/deploy.md) call. An SRE
 * installing with one and registering the provider with the other gets a provider that resolves
 * to nothing: with failOpen: false, every request through the mesh is denied (503).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/tools.js';

const FILES = ['docs/deploy.md', 'deploy/helm/examples/central.yaml', 'deploy/helm/examples/istio.yaml', 'deploy/envoy/central.yaml'];

describe('the central-mode namespace', () => {
  it('is the same in every install command and every Service host', () => {
    const found: Array<{ file: string; what: string; namespace: string }> = [];
    for (const file of FILES) {
      const text = readFileSync(path.join(ROOT, file), 'utf8');
      // Central installs: release "gatehouse" (the sidecar example installs into the workload's namespace).
      for (const m of text.matchAll(/helm install gatehouse deploy\/helm\/gatehouse -n (\S+)/g)) found.push({ file, what: m[0], namespace: m[1]! });
      for (const m of text.matchAll(/kubectl -n (\S+) create secret/g)) found.push({ file, what: m[0], namespace: m[1]! });
      for (const m of text.matchAll(/kubectl label namespace (\S+) istio-injection/g)) found.push({ file, what: m[0], namespace: m[1]! });
      for (const m of text.matchAll(/gatehouse(?:-headless)?\.([a-z0-9-]+)\.svc\.cluster\.local/g)) found.push({ file, what: m[0], namespace: m[1]! });
    }
    expect(found.length).toBeGreaterThanOrEqual(8);
    const namespaces = new Set(found.map((f) => f.namespace));
    expect(namespaces.size, JSON.stringify(found, null, 1)).toBe(1);
  });
});
