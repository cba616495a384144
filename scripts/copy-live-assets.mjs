#!/usr/bin/env node
// Part of `npm run build`: copies the live authorization map's page (HTML, script, styles) from
// src/observability/live/assets/ to dist/observability/live/assets/, where the admin listener
// serves it from (tsc copies only what it compiles). The container image ships dist/ as built.
import { cpSync, rmSync } from 'node:fs';

const from = 'src/observability/live/assets';
const to = 'dist/observability/live/assets';
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
