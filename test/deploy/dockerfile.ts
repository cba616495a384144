/**
 * Reads the parts of the repository's Dockerfile that the image test runs: the runtime stage's
 * ENV, WORKDIR, USER, ENTRYPOINT and CMD, and the build stage's call of the runtime install
 * script. Only the instruction forms the Dockerfile uses are understood (exec-form JSON arrays,
 * `ENV KEY=value`, `\` continuations); anything else is an error, so a change of form fails the
 * test instead of being skipped over.
 */
import { readFileSync } from 'node:fs';

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** The Dockerfile's stages in order, each with its instructions (continuations joined). */
export function readStages(file: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(pending + line);
    pending = '';
  }
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { keyword: keyword.toUpperCase(), args };
    if (instruction.keyword === 'FROM') {
      const [from = '', as, name] = args.split(/\s+/);
      stages.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else if (instruction.keyword !== 'ARG' || stages.length > 0) {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

/** The single value of `keyword` in `stage` (the last one wins, as in Docker). */
export function last(stage: Stage, keyword: string): string {
  const found = stage.instructions.filter((i) => i.keyword === keyword).at(-1);
  if (!found) throw new Error(`the Dockerfile stage FROM ${stage.from} has no ${keyword}`);
  return found.args;
}

/** An exec-form (JSON array) ENTRYPOINT or CMD. */
export function execForm(stage: Stage, keyword: 'ENTRYPOINT' | 'CMD'): string[] {
  const value = JSON.parse(last(stage, keyword)) as unknown;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new Error(`${keyword} is not an exec-form JSON array`);
  return value;
}

/** `ENV KEY=value ...` instructions of a stage as one object (no quoting, as the Dockerfile writes them). */
export function environment(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { keyword, args } of stage.instructions) {
    if (keyword !== 'ENV') continue;
    for (const pair of args.split(/\s+/)) {
      const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(pair);
      if (!match) throw new Error(`ENV ${args}: only KEY=value pairs are understood`);
      env[match[1]!] = match[2]!;
    }
  }
  return env;
}
