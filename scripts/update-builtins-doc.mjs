#!/usr/bin/env node
// Rewrites the builtin table in docs/policies.md from the catalogue ("gatehouse builtins --format markdown").
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const file = 'docs/policies.md';
const table = execFileSync(process.execPath, ['dist/main.js', 'builtins', '--format', 'markdown'], { encoding: 'utf8' });
const doc = readFileSync(file, 'utf8');
const start = doc.indexOf('<!-- builtins:start');
const end = doc.indexOf('<!-- builtins:end -->');
if (start < 0 || end < 0) throw new Error(`${file} has no builtins:start/end markers`);
const startLineEnd = doc.indexOf('\n', start) + 1;
writeFileSync(file, `${doc.slice(0, startLineEnd)}${table}${doc.slice(end)}`);
console.log(`updated the builtin table in ${file}`);
