/** Running the real `gatehouse` binary (dist/main.js, built by ./dev setup), as a user would. */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll } from 'vitest';
import { eventually } from './app.js';
import { ROOT } from './tools.js';

export const MAIN = path.join(ROOT, 'dist/main.js');

/** Fails the calling test file at once, naming the fix, when dist/main.js (what it runs) is missing. */
export function requireBuiltCli(): void {
  beforeAll(() => {
    if (!existsSync(MAIN)) throw new Error('dist/main.js is missing: run "./dev setup" (or npm run build) first');
  });
}

/**
 * The `gatehouse serve` processes a test file starts: push each one onto the returned list, and
 * every one on it is SIGKILLed (and the list emptied) after each test. Also requireBuiltCli().
 */
export function serveProcesses(): ServeProcess[] {
  requireBuiltCli();
  const servers: ServeProcess[] = [];
  afterEach(() => {
    for (const server of servers.splice(0)) server.child.kill('SIGKILL');
  });
  return servers;
}

/** One command to completion; GATEHOUSE_BUNDLE is cleared so the caller's environment cannot leak in. */
export function run(...args: string[]) {
  return runWithStdin(undefined, ...args);
}

export function runWithStdin(input: string | undefined, ...args: string[]) {
  return spawnSync(process.execPath, [MAIN, ...args], { input, encoding: 'utf8', cwd: ROOT, env: { ...process.env, GATEHOUSE_BUNDLE: '' } });
}

export interface ServeProcess {
  child: ChildProcessWithoutNullStreams;
  grpcPort: number;
  adminPort: number;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

/**
 * `gatehouse serve --bundle B` on ports 0, returned once its "gatehouse is serving" line names the
 * ports. `readStdout: false` leaves stdout unread (a stalled decision-log sink). No drain on SIGTERM
 * unless `extraArgs` sets --shutdown-drain-ms (the last flag wins).
 */
export async function startServe(bundle: string, extraArgs: string[] = [], options: { readStdout?: boolean } = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [MAIN, 'serve', '--bundle', bundle, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0', '--shutdown-drain-ms', '0', ...extraArgs], { cwd: ROOT });
  let stdout = '';
  let stderr = '';
  if (options.readStdout === false) child.stdout.pause();
  else child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await eventually(() => stderr.includes('gatehouse is serving'), 15_000);
  const serving = JSON.parse(stderr.split('\n').find((line) => line.includes('gatehouse is serving'))!) as { grpc_port: number; admin_port: number };
  return { child, grpcPort: serving.grpc_port, adminPort: serving.admin_port, stdout: () => stdout, stderr: () => stderr, exited };
}
