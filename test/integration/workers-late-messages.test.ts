/**
 * `gatehouse serve --workers 2`: what a worker sent before it died still counts when the primary
 * reads it after the worker's exit (the real CLI, dist/main.js, a real compiled bundle). Node may
 * report a worker's 'exit' before the last messages in its IPC channel are read (the channel's
 * 'disconnect' comes after them); on a loaded machine it does. To make that order certain, a
 * helper holds a copy of the worker's end of the channel (pidfd_getfd(2), Linux 5.6+), so the
 * channel outlives the worker, and writes the worker's last message after its exit: a batch of
 * decision-log lines, which must reach the decision log.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { serialize } from 'node:v8';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../support/app.js';
import { serveProcesses, startServe } from '../support/cli.js';
import { POLICY, readyz } from '../support/workers.js';
import { buildBundle, tempDir } from '../support/policy.js';
import { opaOrSkip } from '../support/tools.js';

const tool = opaOrSkip();

/**
 * Holds a copy of descriptor `fd` of process `pid` (pidfd_open 434, pidfd_getfd 438: the same
 * numbers on every Linux architecture), prints "held"; on "write" writes stdin's next line (hex)
 * to it and prints "written"; on "close" closes it and exits.
 */
const HOLDER = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
pidfd = libc.syscall(434, int(sys.argv[1]), 0)
fd = libc.syscall(438, pidfd, int(sys.argv[2]), 0) if pidfd >= 0 else -1
if fd < 0:
    print("error", os.strerror(ctypes.get_errno()), flush=True)
    sys.exit(1)
print("held", flush=True)
for line in sys.stdin:
    command = line.split()
    if command[0] == "write":
        os.write(fd, bytes.fromhex(command[1]))
        print("written", flush=True)
    elif command[0] == "close":
        os.close(fd)
        break
`;

/** A message as node's 'advanced' IPC serialization frames it: 4-byte big-endian length, then v8.serialize. */
function advancedFrame(message: unknown): Buffer {
  const body = serialize(message);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  return Buffer.concat([length, body]);
}

const servers = serveProcesses();
let helpers: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  for (const helper of helpers) helper.kill('SIGKILL');
  helpers = [];
});

describe.skipIf(tool.skip)('serve --workers 2: a worker\'s last messages read after its exit', { timeout: 60_000 }, () => {
  it('writes the decision lines of a worker whose exit was reported before they were read', async () => {
    const bundle = buildBundle(tool.opa, { 'policy.rego': POLICY('a') }, path.join(tempDir(), 'bundle.tar.gz'));
    const server = await startServe(bundle, ['--workers', '2']);
    servers.push(server);
    await eventually(async () => (await readyz(server)).ready, 15_000);
    const pid = (await readyz(server)).workers[0]!.pid!;
    const channelFd = /(?:^|\0)NODE_CHANNEL_FD=(\d+)/.exec(readFileSync(`/proc/${pid}/environ`, 'latin1'))![1]!;

    const helper = spawn('python3', ['-c', HOLDER, String(pid), channelFd]);
    helpers.push(helper);
    let said = '';
    helper.stdout.on('data', (chunk) => (said += chunk));
    helper.stderr.on('data', (chunk) => (said += chunk));
    await eventually(() => said.includes('held') || said.includes('error'), 10_000);
    expect(said, 'pidfd_getfd(2) must be allowed (Linux 5.6+, ptrace access to the worker)').toContain('held');

    process.kill(pid, 'SIGKILL');
    // The primary has handled the exit; the channel is still open (the helper holds it).
    await eventually(() => server.stderr().split('\n').some((line) => line.includes('worker exited unexpectedly') && line.includes(`"pid":${pid}`)), 10_000);
    const line = `{"decision_id":"late-${pid}","note":"sent by a worker before it died, read after its exit"}\n`;
    helper.stdin.write(`write ${advancedFrame({ gatehouse: 'log-lines', text: line, count: 1 }).toString('hex')}\n`);
    await eventually(() => said.includes('written'), 10_000);
    helper.stdin.write('close\n');

    await eventually(() => server.stdout().includes(`late-${pid}`), 10_000);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});
