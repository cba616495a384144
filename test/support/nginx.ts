/**
 * A real nginx (Debian's package, scripts/ensure-nginx.sh) run as an unprivileged foreground
 * process with its own prefix, config, pid, temp and log files in a temporary directory, listening
 * on 127.0.0.1 free ports. Outside CI a missing nginx skips the tests that need it, naming the
 * install command; in CI (CI=true) it fails them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { waitFor } from '../../lab/lab.mjs';
import { debianBinaryOrSkip } from './debian-binary.js';

export function nginxOrSkip(): { nginx: string; skip: false } | { nginx: ''; skip: string } {
  const found = debianBinaryOrSkip('nginx', ['/usr/sbin/nginx', '/usr/bin/nginx']);
  return found.skip ? { nginx: '', skip: found.skip } : { nginx: found.path, skip: false };
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface Nginx {
  stop(): Promise<void>;
  errorLog(): string;
}

/** Starts nginx with `httpBlock` (the contents of `http { }`) and waits until `port` accepts. */
export async function startNginx(nginx: string, dir: string, httpBlock: string, port: number): Promise<Nginx> {
  for (const sub of ['logs', 'tmp']) mkdirSync(path.join(dir, sub), { recursive: true });
  const tmp = path.join(dir, 'tmp');
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(conf, `daemon off;
master_process off;
worker_processes 1;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'logs/error.log')} warn;
events { worker_connections 64; }
http {
  access_log ${path.join(dir, 'logs/access.log')};
  client_body_temp_path ${tmp}/body;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
${httpBlock}
}
`);
  const child: ChildProcess = spawn(nginx, ['-p', dir, '-c', conf, '-e', path.join(dir, 'logs/error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const errorLog = () => (existsSync(path.join(dir, 'logs/error.log')) ? readFileSync(path.join(dir, 'logs/error.log'), 'utf8') : '');
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGQUIT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitFor('nginx listening', async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}${errorLog()}`);
      return new Promise<boolean>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
      });
    }, 10_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { stop, errorLog };
}
