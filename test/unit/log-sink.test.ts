import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DecisionLog, openDecisionLogSink, type LogLineResult } from '../../src/observability/decision-log.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempFile(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-sink-'));
  dirs.push(dir);
  return path.join(dir, 'sub', 'decisions.jsonl');
}

const flush = (sink: NonNullable<ReturnType<typeof openDecisionLogSink>>) => new Promise<void>((resolve, reject) => sink.flush!((error) => (error ? reject(error) : resolve())));

describe('the file decision-log sink', () => {
  it('writes every line whole, in order, UTF-8 encoded', async () => {
    const file = tempFile();
    const sink = openDecisionLogSink(file, 8 << 20)!;
    const lines = Array.from({ length: 2000 }, (_, i) => `${JSON.stringify({ n: i, text: `é ☃ ${'x'.repeat(i % 300)}` })}\n`);
    for (const line of lines) sink.write(line);
    await flush(sink);
    expect(readFileSync(file, 'utf8')).toBe(lines.join(''));
    sink.destroy!();
  });

  it('drops (and reports, before write returns) the lines beyond its buffer bound', async () => {
    const file = tempFile();
    const results: LogLineResult[] = [];
    const sink = openDecisionLogSink(file, 4096)!;
    const log = new DecisionLog(sink, { path: 'p', labels: {}, maskPointers: [], maxValueBytes: 1024, allowSamplePercent: 100 }, (result) => results.push(result));
    const outcome = { decisionId: 'd', allowed: false, httpStatus: 403, reasonLabel: 'policy_denied', reason: 'r'.repeat(1500), cache: 'off', timings: { inputNs: 1, evalNs: 1, totalNs: 2 } } as const;
    // One synchronous burst: the first line goes to the file at once, the rest wait in the buffer.
    for (let i = 0; i < 10; i++) log.record(outcome);
    expect(results.filter((r) => r === 'dropped').length).toBeGreaterThan(0);
    expect(results.filter((r) => r === 'written').length).toBeGreaterThan(1);
    await log.close(2000);
    const written = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    expect(written).toHaveLength(results.filter((r) => r === 'written').length);
    for (const line of written) expect(JSON.parse(line).gatehouse.reason).toBe('r'.repeat(1500));
  });
});
