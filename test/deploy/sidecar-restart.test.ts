/**
 * Sidecar mode: the unix socket lives in an emptyDir, which outlives a restart of the gatehouse
 * container (OOM kill, failed liveness probe, crash). A gatehouse killed without its shutdown
 * leaves the socket file behind, and the next one must still start on that path; otherwise the
 * container crash-loops with EADDRINUSE until the pod is deleted, and every request through that
 * pod's Envoy is denied. This runs the chart's rendered command and args for the gatehouse
 * container (the Dockerfile's ENTRYPOINT when the chart sets no command, as Kubernetes does)
 * against a socket path holding a dead gatehouse's socket.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { eventually } from '../support/app.js';
import { tempDir } from '../support/policy.js';
import { ROOT } from '../support/tools.js';
import { execForm, readStages } from './dockerfile.js';
import { EXAMPLES, helmOrSkip, render } from './helm.js';

const tool = helmOrSkip();
const runtime = readStages(path.join(ROOT, 'Dockerfile')).at(-1)!;
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

describe.skipIf(tool.skip)('sidecar mode restarts on the socket a killed gatehouse left behind', () => {
  it('the rendered container starts and serves although the socket file exists', async () => {
    const dir = tempDir();
    const socket = path.join(dir, 'run', 'gatehouse.sock');
    spawnSync('mkdir', ['-p', path.dirname(socket)]);
    const objects = render(tool.helm, path.join(EXAMPLES, 'sidecar.yaml'), [`sidecar.addr=unix://${socket}`]);
    const pod = objects.find((o) => o.kind === 'Deployment')!.spec.template.spec;
    const container = pod.containers.find((c: { name: string }) => c.name === 'gatehouse') as { command?: string[]; args: string[] };
    const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.data?.['gatehouse.yaml'] !== undefined)!;

    // A dead gatehouse's socket: a process listening on the path, killed with SIGKILL.
    const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socket)}, () => console.log('listening'))`]);
    children.push(holder);
    let held = '';
    holder.stdout!.on('data', (chunk) => (held += chunk));
    await eventually(() => held.includes('listening'));
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.on('exit', resolve));
    expect(spawnSync('test', ['-S', socket]).status, 'the killed process left its socket file').toBe(0);

    // The pod's config, with test-only changes: loopback admin port, the repository's bundle, no drain.
    const config = parseYaml(configMap.data!['gatehouse.yaml']!) as Record<string, unknown>;
    expect(config.addr).toBe(`unix://${socket}`);
    Object.assign(config, { admin_addr: '127.0.0.1:0', bundle: path.join(ROOT, 'build/bundle.tar.gz'), decision_log: 'off', shutdown_drain_ms: 0 });
    const configFile = path.join(dir, 'gatehouse.yaml');
    writeFileSync(configFile, stringifyYaml(config));

    // Kubernetes runs command (or the image's ENTRYPOINT) + args. tini is PID 1 in the image; the
    // rest runs here with /app mapped to the repository and the ConfigMap mount to the file above.
    const entrypoint = execForm(runtime, 'ENTRYPOINT');
    const argv = [...(container.command ?? entrypoint), ...container.args];
    expect(argv.slice(0, 2)).toEqual(entrypoint.slice(0, 2));
    expect(argv[1]).toBe('--');
    const mapped = argv.slice(2).map((arg) => arg
      .replaceAll('/app/dist/main.js', path.join(ROOT, 'dist/main.js'))
      .replaceAll('/etc/gatehouse/config/gatehouse.yaml', configFile));
    const child = spawn(mapped[0]!, mapped.slice(1), { env: { ...process.env, PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin` } });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    await eventually(() => stderr.includes('gatehouse is serving') || child.exitCode !== null, 20_000);
    expect(child.exitCode, stderr).toBeNull();
    const serving = JSON.parse(stderr.split('\n').find((line) => line.includes('gatehouse is serving'))!) as { admin_port: number };
    expect((await fetch(`http://127.0.0.1:${serving.admin_port}/readyz`)).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000);
});
