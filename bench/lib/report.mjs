// The printed table (markdown, so docs/performance.md can hold it verbatim) and issue 13's targets.

const pct = (x) => `${Math.round(x * 100)}%`;
const fmt = (x, digits = 2) => (x === undefined || x === null || Number.isNaN(x) ? '—' : Number(x).toFixed(digits));
const ratio = (x, base) => (x === undefined || base === undefined || !base ? '' : ` (${(x / base).toFixed(2)}×)`);

/**
 * Issue 13's targets, each judged from this run's rows: { target, met (true/false/null = not
 * measured), value, goal, note }. Throughput is judged on calls per server CPU-second (robust to
 * the CPU that other processes on a shared machine take); raw calls/s is shown beside it.
 */
export function evaluateTargets(result) {
  const s = result.servers;
  const base = s['incumbent-logs'];
  const on = s['gatehouse-cache-on-logs'];
  const off = s['gatehouse-cache-off-logs'];
  const usable = (row) => row && row.invalid.length === 0;
  const targets = [];
  const add = (name, ok, value, goal, note) => targets.push({ target: name, met: ok === undefined ? null : ok, value, goal, note });
  const tp = (a, b) => ({ cpu: a.perCpuSecond / b.perCpuSecond, raw: (a.saturationRps ?? a.rps) / (b.saturationRps ?? b.rps) });
  const show = (t) => `${t.cpu.toFixed(2)}× per server CPU-s (raw calls/s ${t.raw.toFixed(2)}×)`;
  const verdict = (x, goal) => (x === undefined ? 'not measured (refused run)' : x >= goal ? `met by ${((x / goal - 1) * 100).toFixed(0)}%` : `missed by ${((1 - x / goal) * 100).toFixed(0)}%`);
  const both = usable(base);
  const bounded = (row) => Boolean(row?.saturationLowerBound?.length);
  /**
   * A throughput ratio where either side may be only a lower bound (not saturated): gatehouse's
   * bound can prove a hit, the plugin's bound can prove a miss; otherwise it is inconclusive.
   */
  const throughput = (name, g, p, goal) => {
    if (!usable(g) || !usable(p)) return add(name, undefined, undefined, `≥ ${goal.toFixed(2)}×`, 'not measured (refused run)');
    const t = tp(g, p);
    let ok = t.cpu >= goal;
    let note = verdict(t.cpu, goal);
    if ((ok && bounded(p)) || (!ok && bounded(g))) {
      ok = undefined;
      note = `inconclusive: ${bounded(g) ? 'gatehouse' : 'the plugin'} was not saturated, so its figure is a lower bound (see its row)`;
    } else if (bounded(g) || bounded(p)) note += ' (one side is a lower bound, which only strengthens this verdict)';
    add(name, ok, show(t), `≥ ${goal.toFixed(2)}×`, note);
  };

  throughput('1 core, cache on, decision logs on: ≥ 1.5× the plugin per server CPU-second', on, base, 1.5);

  const p99On = both && usable(on) && !on.r1000.notOffered && !base.r1000.notOffered ? on.r1000.p99 / base.r1000.p99 : undefined;
  const contended = [on, base].filter(Boolean).map((r) => r.r1000).filter((r) => (r.serverWait ?? 0) > 0.1 || (r.foreignCores ?? 0) > 0.25);
  const contendedNote = contended.length ? ` — measured under contention (server waited for its CPU up to ${pct(Math.max(...contended.map((r) => r.serverWait ?? 0)))} of the time, other processes used up to ${fmt(Math.max(...contended.map((r) => r.foreignCores ?? 0)))} cores): not a reliable verdict` : '';
  add('1 core, cache on, logs on: p99 at 1000/s ≤ 0.5× the plugin\'s', p99On === undefined ? undefined : p99On <= 0.5, p99On && `${p99On.toFixed(2)}× (${fmt(on.r1000.p99, 3)} vs ${fmt(base.r1000.p99, 3)} ms)`, '≤ 0.50×',
    p99On === undefined ? 'not measured (refused row or 1000/s not offered: see the rows)' : (p99On <= 0.5 ? 'met' : `missed: ${(p99On / 0.5).toFixed(2)}× the allowed p99`)
      + [base, on].filter((r) => r.r1000.saturated).map((r) => ` (${r.server} could not sustain 1000/s here, so its p99 is queueing)`).join('') + contendedNote);

  throughput('1 core, cache off, logs on: ≥ 1.0× the plugin per server CPU-second', off, base, 1.0);

  const w2 = result.twoCore?.['gatehouse-cache-on-logs-w2'];
  const p2 = result.twoCore?.['incumbent-logs-2'];
  // gatehouse with 2 workers runs more than one process; one process means --workers is not in effect.
  const notWorkers = w2 && usable(w2) && w2.processes < 2 ? `not measured: only ${w2.processes} gatehouse process ran, so --workers 2 is not in effect in dist/ (rebuild with npm run build once workers is wired)` : undefined;
  const w2ok = !notWorkers && usable(w2) && usable(on) && w2.projectedScaling !== undefined;
  add('2 workers ≥ 1.7× its own 1 worker', w2ok ? w2.projectedScaling >= 1.7 : undefined,
    w2ok ? `${fmt(w2.projectedScaling)}× projected = 2 × ${fmt(w2.efficiency)} per-CPU-s efficiency (raw calls/s ${fmt(w2.rawScaling)}× with ghz sharing the 2 CPUs)` : undefined, '≥ 1.70×',
    notWorkers ?? (w2ok ? `${verdict(w2.projectedScaling, 1.7)}; on ${result.machine.nproc} CPUs the load generator shares the server's CPUs, so the figure is calls per server CPU-second at 2 workers ÷ at 1 worker, × 2` : 'not measured (refused row)'));
  const t2 = !notWorkers && usable(w2) && usable(p2) ? tp(w2, p2) : undefined;
  add('2 cores: 2 workers ≥ 1.5× the plugin with GOMAXPROCS=2', t2 && t2.cpu >= 1.5, t2 && show(t2), '≥ 1.50×', notWorkers ?? verdict(t2?.cpu, 1.5));

  const rssRows = [on, off, s['gatehouse-cache-on'], s['gatehouse-cache-off'], w2].filter(usable);
  const maxRss = rssRows.length ? Math.max(...rssRows.map((r) => r.peakRssMb)) : undefined;
  add('peak RSS ≤ 150 MB per worker under load', maxRss === undefined ? undefined : maxRss <= 150, maxRss && `${maxRss.toFixed(0)} MB (largest one process)`, '≤ 150 MB',
    maxRss === undefined ? 'not measured' : maxRss <= 150 ? `met with ${(150 - maxRss).toFixed(0)} MB to spare` : `missed by ${(maxRss - 150).toFixed(0)} MB`);
  return targets;
}

/** The report as markdown (docs/performance.md holds it verbatim). */
export function renderReport(result) {
  const out = [];
  const s = result.servers;
  const baseName = result.baseline.name;
  out.push(`## gatehouse vs ${baseName}: ${result.mode} run, ${result.startedAt}`);
  out.push('');
  out.push(`Measured on a shared ${result.machine.nproc}-core machine (${result.machine.cpuModel}) while other work was running (load average ${result.machine.loadAverageAtStart.join(' ')} at start, ${result.machine.loadAverageAtEnd.join(' ')} at end); 1-core rows: servers pinned to CPU ${result.method.serverCpu}, ghz to CPU ${result.method.loadCpu}, 50 calls in flight on one connection. ${result.rounds} round(s) × ${result.secondsPerPhase} s per phase, median over rounds. Ratios are against ${baseName} measured in this same run, with the same decision-log setting.`);
  if (result.baseline.note) out.push('', `**BASELINE IS THE STAND-IN:** ${result.baseline.note}. Ratios below are against that stand-in, not the real plugin; they are not the published numbers.`);
  const table = (title, keys, baseKey) => {
    const base = s[baseKey];
    const bv = base && !base.invalid.length ? base : undefined;
    out.push('');
    out.push(`| ${title} | saturation calls/s | calls per server CPU-second | p50 / p90 / p99 / p99.9 ms at 1000/s | p50 / p90 / p99 / p99.9 ms at 3000/s | CPU µs per Check (1000/s) | peak RSS MB | log bytes per Check | server busy + waiting for CPU at saturation |`);
    out.push('|---|---|---|---|---|---|---|---|---|');
    for (const key of keys) {
      const row = s[key];
      if (!row) continue;
      if (row.invalid.length) {
        out.push(`| ${row.server} | REFUSED: ${row.invalid.join('; ').replace(/\|/g, '/')} | | | | | | | |`);
        continue;
      }
      const isBase = row === base;
      const lat99 = (r, b) => (r.notOffered ? `void (${r.notOffered.replace(/\|/g, '/')})`
        : `${fmt(r.p50, 3)} / ${fmt(r.p90, 3)} / **${fmt(r.p99, 3)}**${isBase || b?.notOffered ? '' : ratio(r.p99, b?.p99)} / ${fmt(r.p999, 3)}${r.saturated ? ' ⚠ saturated' : ''}`);
      const bound = row.saturationLowerBound?.length ? `≥ ` : '';
      const boundNote = bound ? ` (lower bound, not saturated: ${row.saturationLowerBound.join('; ').replace(/\|/g, '/')})` : '';
      out.push(`| ${row.server}${row.cacheHitRate !== undefined && key.includes('cache-on') ? ` (hit rate ${Math.round(row.cacheHitRate * 100)}%)` : ''}${row.processes > 1 ? ` (${row.processes} processes)` : ''} | ${fmt(row.saturationRps, 0)}${isBase ? '' : ratio(row.saturationRps, bv?.saturationRps)} | ${bound}${fmt(row.perCpuSecond, 0)}${isBase ? '' : ratio(row.perCpuSecond, bv?.perCpuSecond)}${boundNote} | ${lat99(row.r1000, bv?.r1000)} | ${lat99(row.r3000, bv?.r3000)} | ${fmt(row.cpuUsPerCheck, 1)}${isBase ? '' : ratio(row.cpuUsPerCheck, bv?.cpuUsPerCheck)} | ${fmt(row.peakRssMb, 0)} | ${row.decisionLogBytesPerCheck === undefined ? '—' : Math.round(row.decisionLogBytesPerCheck)} | ${pct(row.saturationServerBusy ?? 0)} + ${pct(row.saturationServerWait ?? 0)}${(row.saturationServerWait ?? 0) > 0.25 ? ' ⚠ contended' : ''} |`);
    }
  };
  table('1 core, decision logs ON for both (headline)', ['incumbent-logs', 'gatehouse-cache-off-logs', 'gatehouse-cache-on-logs'], 'incumbent-logs');
  if (s.incumbent) table('1 core, decision logs OFF for both', ['incumbent', 'gatehouse-cache-off', 'gatehouse-cache-on', 'noop'], 'incumbent');
  else table('1 core, reference', ['noop'], 'incumbent-logs');
  const dropped = Object.values(s).filter((r) => r.dropped?.length);
  if (dropped.length) out.push('', `Rounds dropped (the row is the median of the remaining rounds): ${dropped.map((r) => `${r.server}: ${r.dropped.join('; ')}`).join('; ').replace(/\|/g, '/')}.`);
  const foreign = Math.max(...Object.values(s).map((r) => r.foreignCores ?? 0));
  out.push('');
  out.push(`Other processes used up to ${fmt(foreign)} cores during the measured phases; "calls per server CPU-second" (saturation calls ÷ server CPU seconds, all the server's processes and threads) is the figure that contention does not bias, and the throughput targets are judged on it. ⚠ saturated = the server could not sustain that rate, so those percentiles are queueing. ⚠ contended = the server waited for its CPU more than a quarter of the time (other processes on the machine): its figures, even per CPU-second, are noisy. "log bytes per Check" proves the decision log was written.`);
  if (result.twoCore) {
    out.push('');
    out.push(`| 2 cores: server allowed CPUs ${result.method.twoCpus}, ghz on the same CPUs (4 connections, 64 in flight), decision logs on | raw calls/s | server CPU cores used (+ waiting) | ghz cores used | other processes, cores | calls per server CPU-second | × plugin GOMAXPROCS=2 per CPU-s | largest process RSS MB |`);
    out.push('|---|---|---|---|---|---|---|---|');
    const p2 = result.twoCore['incumbent-logs-2'];
    for (const r of Object.values(result.twoCore)) {
      if (r.invalid.length) { out.push(`| ${r.server} | REFUSED: ${r.invalid.join('; ').replace(/\|/g, '/')} | | | | | | |`); continue; }
      const vs = r === p2 || !p2 || p2.invalid.length ? '' : `${fmt(r.perCpuSecond / p2.perCpuSecond)}× (raw ${fmt(r.rps / p2.rps)}×)`;
      out.push(`| ${r.server}${r.processes ? ` (${r.processes} process${r.processes > 1 ? 'es' : ''})` : ''} | ${fmt(r.rps, 0)} | ${fmt(r.serverCores)} (+ ${fmt(r.serverWait)}) | ${fmt(r.ghzCores)} | ${fmt(r.foreignCores)} | ${fmt(r.perCpuSecond, 0)} | ${vs} | ${fmt(r.peakRssMb, 0)} |`);
    }
    const w2 = result.twoCore['gatehouse-cache-on-logs-w2'];
    if (w2?.efficiency) out.push('', `On this ${result.machine.nproc}-CPU machine ghz shares the server's two CPUs, so raw calls/s understates what two whole cores give. gatehouse 2 workers vs its own 1 worker (1-core headline row, ${w2.oneWorker.rps}/s, ${w2.oneWorker.perCpuSecond} per CPU-s): per-CPU-second efficiency ${fmt(w2.efficiency)}, so two whole CPUs would give ${fmt(w2.projectedScaling)}× (raw: ${fmt(w2.rawScaling)}×).`);
  }
  if (result.envoy) {
    out.push('');
    if (result.envoy.skipped) out.push(`Through Envoy: skipped (${result.envoy.skipped}).`);
    else {
      out.push('| through Envoy 1.40 at 1000/s (HTTP/1.1 client, direct_response route) | p50 ms | p90 ms | p99 ms | added p50 | added p99 |');
      out.push('|---|---|---|---|---|---|');
      for (const [key, e] of Object.entries(result.envoy)) {
        if (e.invalid?.length) { out.push(`| ext_authz → ${key} | REFUSED: ${e.invalid.join('; ')} | | | | |`); continue; }
        out.push(`| ext_authz off | ${fmt(e.off.p50, 3)} | ${fmt(e.off.p90, 3)} | ${fmt(e.off.p99, 3)} | | |`);
        out.push(`| ext_authz → ${key} | ${fmt(e.on.p50, 3)} | ${fmt(e.on.p90, 3)} | ${fmt(e.on.p99, 3)} | +${fmt(e.addedP50, 3)} ms | +${fmt(e.addedP99, 3)} ms |`);
      }
    }
  }
  const d = result.decisionCheck;
  out.push('');
  out.push(d.mismatchCount ? `**Decision check FAILED**: ${d.mismatchCount} of ${d.compared} sampled requests decided differently: ${d.mismatches.join('; ')}` : `Decision check: the policy servers gave identical decisions (allowed, HTTP status) for the first ${d.compared} corpus requests (${d.allowed} allowed).`);
  out.push('');
  out.push(`| target (issue 13), against ${baseName} | measured | goal | |`);
  out.push('|---|---|---|---|');
  for (const t of result.targets) out.push(`| ${t.target} | ${t.value || '—'} | ${t.goal} | ${t.met === null ? t.note : `${t.met ? 'MET' : 'MISSED'}: ${t.note}`} |`);
  out.push('');
  return out.join('\n');
}
