/** `gatehouse serve` (dist/main.js) under a lower descriptor limit (`ulimit -n`, Linux bash), as startServe runs it. */
import { spawn } from 'node:child_process';
import { eventually } from './app.js';
import { MAIN, type ServeProcess } from './cli.js';
import { ROOT } from './tools.js';

/**
 * startServe (test/support/cli.ts) under `ulimit -n descriptors` (the workers inherit it): ports 0,
 * no drain, `extraArgs` last. The caller kills `child`.
 */
export async function serveWithDescriptorLimit(bundle: string, descriptors: number, extraArgs: string[] = []): Promise<ServeProcess> {
  const args = [MAIN, 'serve', '--bundle', bundle, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0', '--shutdown-drain-ms', '0', ...extraArgs];
  const quoted = [process.execPath, ...args].map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('bash', ['-c', `ulimit -n ${descriptors} && exec ${quoted}`], { cwd: ROOT });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  try {
    await eventually(() => stderr.includes('gatehouse is serving'), 15_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`gatehouse serve did not start: ${stderr.slice(-2000)}`, { cause: error });
  }
  const serving = JSON.parse(stderr.split('\n').find((line) => line.includes('gatehouse is serving'))!) as { grpc_port: number; admin_port: number };
  return { child, grpcPort: serving.grpc_port, adminPort: serving.admin_port, stdout: () => stdout, stderr: () => stderr, exited };
}
