#!/usr/bin/env node
// How each server puts a Check response on the wire: `strace` records every socket write of the
// server process while ghz sends Checks, and the HTTP/2 frames in those writes are followed per
// stream. A response is "whole" when its HEADERS, DATA and trailers (HEADERS with END_STREAM)
// left in one write, "split" otherwise. A process killed between the writes of a split response
// leaves its client a started response (Envoy cannot retry it: docs/deploy.md, "Many instances");
// a whole response is either all sent or not sent at all.
//
// Runs gatehouse (one process, cache off, decision log off) and the incumbent (OPA_ENVOY_PLUGIN, or
// the labelled stand-in) one after the other on CPU 0, ghz on CPU 1: once at a low fixed rate with
// one Check in flight, once at saturation with --concurrency in flight. Bounded: 4 runs of
// --seconds each (default 3). Needs strace (Debian package `strace`: `sudo apt-get install -y strace`).
//   node bench/response-writes.mjs [--seconds 3] [--concurrency 50]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeCorpus } from './corpus.mjs';
import { runGhz } from './lib/ghz.mjs';
import { freePort, sleep } from './lib/proc.mjs';
import { serverKinds, waitReady } from './lib/servers.mjs';
import { ensureGhz, ensureIncumbent, ROOT } from './lib/tools.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '50' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('node bench/response-writes.mjs [--seconds 3] [--concurrency 50]\n\nShare of Check responses each server writes to its socket in one write (HEADERS, DATA and trailers together). Needs strace.');
  process.exit(0);
}
if (spawnSync('strace', ['-V']).status !== 0) {
  console.error('strace is not installed: sudo apt-get install -y strace');
  process.exit(2);
}

const log = (line) => console.error(line);
const work = mkdtempSync(path.join(tmpdir(), 'gatehouse-response-writes-'));
const ghz = ensureGhz(log);
const incumbent = ensureIncumbent(log);
const corpus = writeCorpus(work, 200);
const bundle = path.join(work, 'bench.tar.gz');
execFileSync(process.execPath, [path.join(ROOT, 'dist/main.js'), 'build', '--policies', path.join(ROOT, 'bench/policy'), '--out', bundle], { stdio: 'ignore', cwd: ROOT });
const kinds = serverKinds({ incumbent, bundle, workDir: work });

/**
 * Follows HTTP/2 frames through the socket writes of an `strace -xx` log. Frames may straddle
 * writes (kept per file descriptor); server-to-client bytes only, so each stream's first HEADERS
 * frame is the response's headers and the HEADERS frame with END_STREAM its trailers.
 * @returns {{ whole: number, split: number, writes: number }} writes: to the descriptors that carried responses
 */
function responseWrites(straceLog) {
  const pending = new Map();
  const firstHeadersWrite = new Map();
  let write = 0;
  const writesPerFd = new Map();
  const responseFds = new Set();
  let whole = 0;
  let split = 0;
  for (const line of readFileSync(straceLog, 'utf8').split('\n')) {
    const call = /(?:write|writev|sendmsg)\((\d+),/.exec(line);
    if (!call || call[1] === '1' || call[1] === '2') continue;
    const hex = [...line.matchAll(/"((?:\\x[0-9a-f]{2})+)"/g)].map((m) => m[1].replaceAll('\\x', '')).join('');
    if (!hex) continue;
    write++;
    writesPerFd.set(call[1], (writesPerFd.get(call[1]) ?? 0) + 1);
    let bytes = Buffer.concat([pending.get(call[1]) ?? Buffer.alloc(0), Buffer.from(hex, 'hex')]);
    while (bytes.length >= 9) {
      const length = bytes.readUIntBE(0, 3);
      if (bytes.length < 9 + length) break;
      const [type, flags] = [bytes[3], bytes[4]];
      const stream = bytes.readUInt32BE(5) & 0x7fffffff;
      if (type === 1 && stream !== 0) {
        if (!firstHeadersWrite.has(stream)) firstHeadersWrite.set(stream, write);
        if (flags & 0x1) {
          responseFds.add(call[1]);
          if (firstHeadersWrite.get(stream) === write) whole++;
          else split++;
          firstHeadersWrite.delete(stream);
        }
      }
      bytes = bytes.subarray(9 + length);
    }
    pending.set(call[1], bytes);
  }
  let writes = 0;
  for (const fd of responseFds) writes += writesPerFd.get(fd);
  return { whole, split, writes };
}

const runs = [
  { label: '1 in flight, 200/s', concurrency: 1, rate: 200 },
  { label: `${values.concurrency} in flight, saturated`, concurrency: Number(values.concurrency) },
];
console.log(`| server | load | Checks | socket writes per Check | responses in one write | split |`);
console.log(`|---|---|---|---|---|---|`);
for (const key of ['gatehouse-cache-off', 'incumbent']) {
  const kind = kinds[key];
  for (const run of runs) {
    const port = await freePort();
    const adminPort = await freePort();
    const proc = kind.start({ cpus: '0', port, adminPort });
    try {
      await waitReady(port, corpus.requests[0], proc);
      await runGhz({ ghz, port, corpus: corpus.file, cpus: '1', seconds: 1, concurrency: run.concurrency, outFile: path.join(work, 'warm.json') });
      const straceLog = path.join(work, `${key}-${run.concurrency}.strace`);
      const tracer = spawn('strace', ['-f', '-p', String(proc.pid), '-e', 'trace=write,writev,sendmsg', '-s', '65536', '-xx', '-o', straceLog], { stdio: 'ignore' });
      await sleep(500);
      const result = await runGhz({ ghz, port, corpus: corpus.file, cpus: '1', seconds: Number(values.seconds), concurrency: run.concurrency, rate: run.rate, outFile: path.join(work, 'run.json') });
      tracer.kill('SIGINT');
      await new Promise((resolve) => tracer.on('exit', resolve));
      const { whole, split, writes } = responseWrites(straceLog);
      const share = (n) => `${n} (${((100 * n) / Math.max(1, whole + split)).toFixed(0)}%)`;
      console.log(`| ${kind.name} | ${run.label} | ${result.count} | ${(writes / result.count).toFixed(2)} | ${share(whole)} | ${share(split)} |`);
    } finally {
      await proc.stop(2000);
    }
  }
}
