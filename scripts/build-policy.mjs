#!/usr/bin/env node
// Kept for scripts that call it: the same as `node dist/main.js build` (see `gatehouse help build`).
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const main = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'dist', 'main.js');
const result = spawnSync(process.execPath, [main, 'build', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
