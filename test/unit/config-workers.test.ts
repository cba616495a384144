/** The `workers` key from a YAML file: an integer (`workers: 2`) is its string form; auto stays auto. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { tempDir } from '../support/policy.js';

function fromYaml(yaml: string) {
  const file = path.join(tempDir(), 'gatehouse.yaml');
  writeFileSync(file, `bundle: b.tar.gz\n${yaml}\n`);
  return loadConfig({ file, env: {}, flags: {} });
}

describe('workers in a config file', () => {
  it('accepts a YAML integer as the worker count', () => {
    expect(fromYaml('workers: 2').workers).toBe('2');
    expect(fromYaml('workers: 1').workers).toBe('1');
  });

  it('accepts auto and a quoted number', () => {
    expect(fromYaml('workers: auto').workers).toBe('auto');
    expect(fromYaml('workers: "3"').workers).toBe('3');
  });

  it('refuses 0, a fraction and a non-number, naming the key and the fix', () => {
    for (const bad of ['workers: 0', 'workers: 2.5', 'workers: 300', 'workers: true']) {
      expect(() => fromYaml(bad), bad).toThrow(/workers \(key "workers" in .*\) must .*Fix: set --workers/);
    }
  });
});
