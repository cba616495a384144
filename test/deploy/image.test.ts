/**
 * The container image's runtime, without building the image (this machine cannot pull base
 * images): the Dockerfile's own install step (deploy/image/install-runtime.sh, production
 * dependencies only) runs into a clean temporary directory, which is then made unwritable, and the
 * Dockerfile's own ENTRYPOINT + CMD start gatehouse from it as the image's numeric user (when the
 * test runs as root) with a PATH holding no tool at all: no OPA, no TypeScript, no npm. It must
 * serve a Check of the prebuilt example policy, report ready, and exit cleanly on SIGTERM.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/app.js';
import { TestClient } from '../support/grpc-client.js';
import { tempDir } from '../support/policy.js';
import { ROOT } from '../support/tools.js';
import { environment, execForm, last, readStages } from './dockerfile.js';

const DOCKERFILE = path.join(ROOT, 'Dockerfile');
const INSTALL_SCRIPT = 'deploy/image/install-runtime.sh';
const stages = readStages(DOCKERFILE);
const runtime = stages.at(-1)!;
const build = stages.find((s) => s.name === 'build');

/** The build stage's `RUN sh deploy/image/install-runtime.sh SOURCE DEST`: its DEST. */
function installDestination(): string {
  const run = build?.instructions.find((i) => i.keyword === 'RUN' && i.args.includes(INSTALL_SCRIPT));
  const match = run && new RegExp(`^sh ${INSTALL_SCRIPT} (\\S+) (\\S+)$`).exec(run.args.trim());
  if (!match) throw new Error(`the Dockerfile's build stage must RUN sh ${INSTALL_SCRIPT} SOURCE DEST`);
  return match[2]!;
}

/** Readable by everyone (as the image's root-owned files are), writable by no one, or writable again. */
function setWritable(dir: string, writable: boolean): void {
  spawnSync('chmod', ['-R', writable ? 'u+w' : 'a+rX,a-w', dir]);
}

describe('the container image (Dockerfile) runtime, installed and started as the image does', () => {
  const dir = tempDir('gatehouse-image-');
  const app = path.join(dir, 'app');
  let child: ChildProcessWithoutNullStreams | undefined;
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    setWritable(dir, true);
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies the installed runtime into its working directory, non-root, with tini as PID 1', () => {
    const dest = installDestination();
    expect(last(runtime, 'WORKDIR')).toBe(dest);
    expect(runtime.instructions.some((i) => i.keyword === 'COPY' && i.args === `--from=build ${dest} ${dest}`)).toBe(true);
    expect(last(runtime, 'USER')).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    const entrypoint = execForm(runtime, 'ENTRYPOINT');
    expect(entrypoint.slice(0, 2)).toEqual(['/usr/bin/tini', '--']);
    expect(entrypoint[2]).toBe('node');
    expect(runtime.from).toBe('${NODE_IMAGE}');
    expect(readFileSync(DOCKERFILE, 'utf8')).toMatch(/^ARG NODE_IMAGE=node:20\.\d+\.\d+-\S+$/m);
    expect(last(runtime, 'EXPOSE').split(/\s+/)).toEqual(['9191', '9192']);
  });

  it('keeps out of the build context nothing the build stage needs', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const needed = ['package.json', 'package-lock.json', 'tsconfig.json', 'src', 'scripts/gen-types.mjs', 'policies', INSTALL_SCRIPT];
    for (const file of needed) {
      expect(existsSync(path.join(ROOT, file)), file).toBe(true);
      const prefixes = file.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
      expect(ignored.filter((pattern) => prefixes.includes(pattern)), file).toEqual([]);
    }
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', 'build', '.git', '.tools', '.venv']));
  });

  it('installs production dependencies only and serves a Check from a read-only copy with no tools on PATH', async () => {
    const install = spawnSync('sh', [path.join(ROOT, INSTALL_SCRIPT), ROOT, app], { encoding: 'utf8', timeout: 240_000 });
    expect(install.status, install.stderr).toBe(0);
    const modules = readdirSync(path.join(app, 'node_modules'));
    expect(modules).toContain('@grpc');
    for (const devOnly of ['typescript', 'vitest', '@open-policy-agent']) expect(modules).not.toContain(devOnly);
    expect(readdirSync(app).sort()).toEqual(['build', 'dist', 'node_modules', 'package-lock.json', 'package.json']);

    // The image's file system as the process sees it: nothing writable, no tool but node itself.
    chmodSync(dir, 0o755);
    setWritable(app, false);
    const emptyBin = path.join(dir, 'bin');
    mkdirSync(emptyBin, { mode: 0o755 });
    const [uid, gid] = last(runtime, 'USER').split(':').map(Number);
    const asImageUser = process.getuid?.() === 0 ? { uid: uid!, gid: gid! } : {};

    const dest = installDestination();
    const mapPath = (arg: string) => (arg === dest || arg.startsWith(`${dest}/`) ? app + arg.slice(dest.length) : arg);
    const [, , , ...nodeArgs] = execForm(runtime, 'ENTRYPOINT');
    const command = [...nodeArgs, ...execForm(runtime, 'CMD')].map(mapPath);
    // Tests listen on 127.0.0.1 only: the image's :9191/:9192 become free loopback ports.
    // --admin-ui: the live map's page and libraries must be in the image too (dist/ and production dependencies).
    const args = [...command, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0', '--shutdown-drain-ms', '0', '--admin-ui', 'true'];
    child = spawn(process.execPath, args, {
      cwd: mapPath(last(runtime, 'WORKDIR')),
      env: { ...environment(runtime), PATH: emptyBin, HOME: path.join(dir, 'no-home') },
      ...asImageUser,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child!.on('exit', resolve));
    await eventually(() => stderr.includes('gatehouse is serving') || child!.exitCode !== null, 20_000);
    expect(child.exitCode, stderr).toBeNull();
    const serving = JSON.parse(stderr.split('\n').find((line) => line.includes('gatehouse is serving'))!) as { grpc_port: number; admin_port: number };

    expect((await fetch(`http://127.0.0.1:${serving.admin_port}/readyz`)).status).toBe(200);
    const client = new TestClient(`127.0.0.1:${serving.grpc_port}`);
    const request = JSON.parse(readFileSync(path.join(ROOT, 'examples/check-request.json'), 'utf8')) as Record<string, unknown>;
    const reply = await client.check(request);
    client.close();
    expect(reply.allowed).toBe(true);
    expect(reply.headers['x-gatehouse-rule']).toBe('checkout-reads-stock');
    await eventually(() => stdout.includes('"decision_id"'));
    expect(stdout).toContain('"allowed":true');
    const admin = `http://127.0.0.1:${serving.admin_port}`;
    const page = await (await fetch(`${admin}/live`)).text();
    const assets = [...page.matchAll(/(?:src|href)="(\/live\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toEqual(expect.arrayContaining(['/live/assets/cytoscape.min.js', '/live/assets/uPlot.iife.min.js', '/live/assets/live.js']));
    for (const asset of assets) expect((await fetch(`${admin}${asset}`)).status, asset).toBe(200);
    expect(((await (await fetch(`${admin}/live/snapshot`)).json()) as { checks: { allow: number } }).checks.allow).toBe(1);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).not.toMatch(/EACCES|EROFS|"level":50/);
  }, 300_000);
});
