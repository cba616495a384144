#!/usr/bin/env node
// What validating the configuration costs at start-up (dist/, so run `npm run build` first): in
// fresh processes, the import of config/load.js, the first loadConfig of examples/gatehouse.yaml
// (which gets the validator: config/json-schema.ts configValidator, ahead-compiled by the build,
// or compiled with ajv at this first call when dist/config/config-validator.generated.cjs is
// missing or stale) and a second loadConfig in the same process (the baseline). compile_ms is
// configValidator's first call measured alone in another fresh process. Medians of --runs.
//   node bench/config-load.mjs [--runs N]
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' }, child: { type: 'string' } } });
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const example = path.join(root, 'examples/gatehouse.yaml');

if (values.child === 'load') {
  const t0 = performance.now();
  const { loadConfig } = await import(path.join(root, 'dist/config/load.js'));
  const t1 = performance.now();
  loadConfig({ file: example, env: {}, flags: {} });
  const t2 = performance.now();
  loadConfig({ file: example, env: {}, flags: {} });
  const t3 = performance.now();
  console.log(JSON.stringify({ import_ms: t1 - t0, first_load_ms: t2 - t1, second_load_ms: t3 - t2 }));
} else if (values.child === 'compile') {
  const { configValidator } = await import(path.join(root, 'dist/config/json-schema.js'));
  const t0 = performance.now();
  configValidator();
  console.log(JSON.stringify({ compile_ms: performance.now() - t0 }));
} else {
  const runs = { load: [], compile: [] };
  for (let i = 0; i < Number(values.runs); i++) {
    for (const kind of ['load', 'compile']) {
      runs[kind].push(JSON.parse(execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', kind], { encoding: 'utf8' })));
    }
  }
  const median = (rows, field) => {
    const xs = rows.map((r) => r[field]).sort((a, b) => a - b);
    return +xs[xs.length >> 1].toFixed(2);
  };
  const result = {
    runs: Number(values.runs),
    import_ms: median(runs.load, 'import_ms'),
    first_load_ms: median(runs.load, 'first_load_ms'),
    second_load_ms: median(runs.load, 'second_load_ms'),
    compile_ms: median(runs.compile, 'compile_ms'),
  };
  result.first_over_second = +(result.first_load_ms / result.second_load_ms).toFixed(1);
  console.log(JSON.stringify(result));
}
