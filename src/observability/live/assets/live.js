// The live authorization map's page script (src/observability/live/live-routes.ts serves it).
// It listens to /live/events (server-sent events, one "snapshot" a second, shaped as LiveSnapshot in
// live-routes.ts) and draws: the caller → destination graph (cytoscape), the totals, the latency
// histogram (uPlot), the top denials and every edge as tables. Text from the server is only ever
// set as textContent, never as HTML. window.gatehouseLive exposes the graph and the last snapshot
// for tests and for poking at in the browser's console.
'use strict';
(function () {
  const THEME_KEY = 'gatehouse-live-theme';
  const themes = ['system', 'light', 'dark'];
  const $ = (id) => document.getElementById(id);
  let cy;
  let chart;
  let last;
  let updates = 0;
  let graphShape = '';

  // ---- theme -------------------------------------------------------------------------------
  function storedTheme() {
    try {
      const theme = localStorage.getItem(THEME_KEY);
      return themes.includes(theme) ? theme : 'system';
    } catch {
      return 'system';
    }
  }
  function applyTheme(theme) {
    if (theme === 'system') delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = theme;
    $('theme-toggle').textContent = `theme: ${theme}`;
    if (cy) cy.style(graphStyle());
    if (last) drawLatency(last, true);
  }
  function color(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim();
  }
  $('theme-toggle').addEventListener('click', () => {
    const next = themes[(themes.indexOf(storedTheme()) + 1) % themes.length];
    try {
      localStorage.setItem(THEME_KEY, next);
    } catch {
      // private mode: the choice lasts for this page only
    }
    applyTheme(next);
  });
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => applyTheme(storedTheme()));

  // ---- formatting --------------------------------------------------------------------------
  const rate = (count, seconds) => {
    const perSecond = count / seconds;
    return perSecond === 0 ? '0' : perSecond < 0.1 ? '<0.1' : perSecond < 10 ? perSecond.toFixed(1) : Math.round(perSecond).toLocaleString('en');
  };
  const percent = (part, whole) => (whole === 0 ? '–' : `${((100 * part) / whole).toFixed(part === whole || part === 0 ? 0 : 1)}%`);
  const shortName = (principal) => principal.replace(/^spiffe:\/\/[^/]+\//, '');
  const microseconds = (us) => (us >= 1000 ? `${us / 1000} ms` : `${us} µs`);

  function cell(row, text, className) {
    const td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }
  function fillTable(table, rows, columns, emptyText) {
    const body = table.tBodies[0];
    const fresh = document.createElement('tbody');
    if (rows.length === 0) {
      const row = fresh.insertRow();
      row.className = 'empty';
      const td = cell(row, emptyText);
      td.colSpan = columns;
    }
    for (const fill of rows) fill(fresh.insertRow());
    table.replaceChild(fresh, body);
  }

  // ---- graph -------------------------------------------------------------------------------
  function graphStyle() {
    return [
      {
        selector: 'node',
        style: {
          'background-color': color('node'),
          label: 'data(label)',
          color: color('node-text'),
          'font-size': 13,
          'text-valign': 'bottom',
          'text-margin-y': 4,
          'text-wrap': 'ellipsis',
          'text-max-width': 180,
          width: 18,
          height: 18,
        },
      },
      // Callers on the left with their names to their left, destinations to the right with theirs to the right.
      { selector: 'node[!called]', style: { 'text-valign': 'center', 'text-halign': 'left', 'text-margin-x': -6, 'text-margin-y': 0 } },
      { selector: 'node[?called]', style: { 'text-valign': 'center', 'text-halign': 'right', 'text-margin-x': 6, 'text-margin-y': 0 } },
      { selector: 'node[?more]', style: { 'background-color': color('muted'), 'font-style': 'italic' } },
      { selector: 'node[?denied]', style: { 'border-width': 3, 'border-color': color('deny') } },
      {
        selector: 'edge',
        style: {
          width: 'data(width)',
          'curve-style': 'bezier',
          'target-arrow-shape': 'triangle',
          'arrow-scale': 0.9,
          label: 'data(label)',
          'font-size': 11,
          color: color('muted'),
          'text-background-color': color('panel'),
          'text-background-opacity': 0.85,
          'text-background-padding': 2,
          'text-rotation': 'autorotate',
        },
      },
      { selector: 'edge[outcome = "allow"]', style: { 'line-color': color('allow'), 'target-arrow-color': color('allow') } },
      { selector: 'edge[outcome = "deny"]', style: { 'line-color': color('deny'), 'target-arrow-color': color('deny'), 'line-style': 'dashed' } },
    ];
  }

  // The graph draws the GRAPH_PAIRS busiest caller → destination pairs (by rate over the last
  // minute, then by count over the window), so it stays readable with hundreds of callers; every
  // other pair is drawn from MORE_CALLERS (a caller not drawn) or to MORE_DESTINATIONS. The table
  // "Callers and destinations" lists every pair.
  const GRAPH_PAIRS = 16;
  const OTHER = '(other)';
  const MORE_CALLERS = '(more callers)';
  const MORE_DESTINATIONS = '(more destinations)';

  /** The pairs to draw: the busiest GRAPH_PAIRS as they are, the rest folded. Returns { pairs, folded }. */
  function graphPairs(snapshot) {
    const busiest = (a, b) => b.allow_recent + b.deny_recent - (a.allow_recent + a.deny_recent) || b.allow + b.deny - (a.allow + a.deny);
    const ranked = snapshot.edges.filter((edge) => edge.source !== OTHER).sort(busiest);
    const shown = ranked.slice(0, GRAPH_PAIRS);
    const drawn = new Set(shown.flatMap((edge) => [edge.source, edge.destination]));
    const pairs = new Map(shown.map((edge) => [`${edge.source}\n${edge.destination}`, { ...edge }]));
    const foldedCallers = new Set();
    let folded = 0;
    for (const edge of snapshot.edges) {
      if (shown.includes(edge)) continue;
      folded++;
      if (!drawn.has(edge.source)) foldedCallers.add(edge.source);
      const source = drawn.has(edge.source) ? edge.source : MORE_CALLERS;
      const destination = drawn.has(edge.destination) ? edge.destination : MORE_DESTINATIONS;
      const key = `${source}\n${destination}`;
      const sum = pairs.get(key) ?? { source, destination, allow: 0, deny: 0, allow_recent: 0, deny_recent: 0 };
      for (const field of ['allow', 'deny', 'allow_recent', 'deny_recent']) sum[field] += edge[field];
      pairs.set(key, sum);
    }
    return { pairs: [...pairs.values()], folded, total: snapshot.edges.length, foldedCallers: foldedCallers.size };
  }

  /** Nodes are workloads (principals), edges caller → destination, one per outcome seen in the window. */
  function graphElements(snapshot) {
    const nodes = new Map();
    const edges = [];
    const { pairs, folded, total, foldedCallers } = graphPairs(snapshot);
    const node = (principal) => {
      if (!nodes.has(principal)) {
        const label = principal === MORE_CALLERS ? `${foldedCallers.toLocaleString('en')} more callers` : principal === MORE_DESTINATIONS ? 'other destinations' : shortName(principal);
        nodes.set(principal, { data: { id: `n:${principal}`, label, principal, denied: false, caller: false, called: false, more: principal === MORE_CALLERS || principal === MORE_DESTINATIONS } });
      }
      return nodes.get(principal);
    };
    $('graph-note').textContent = folded > 0
      ? `the ${GRAPH_PAIRS} busiest of ${total.toLocaleString('en')} caller → destination pairs; the other ${folded.toLocaleString('en')} are drawn from "more callers" (the table "Callers and destinations" lists every pair)`
      : '(the table "Callers and destinations" lists every edge)';
    for (const edge of pairs) {
      node(edge.source).data.caller = true;
      const target = node(edge.destination);
      target.data.called = true;
      for (const [outcome, count, recent] of [['allow', edge.allow, edge.allow_recent], ['deny', edge.deny, edge.deny_recent]]) {
        if (count === 0) continue;
        if (outcome === 'deny') target.data.denied = true;
        const perSecond = recent / snapshot.rate_seconds;
        edges.push({
          data: {
            id: `${outcome}:${edge.source}\n${edge.destination}`,
            source: `n:${edge.source}`,
            target: `n:${edge.destination}`,
            caller: edge.source,
            destination: edge.destination,
            outcome,
            count,
            recent,
            label: `${rate(recent, snapshot.rate_seconds)}/s`,
            width: Math.min(10, 1.5 + 2 * Math.log10(1 + perSecond * 10)),
          },
        });
      }
    }
    return { nodes: [...nodes.values()], edges };
  }

  function drawGraph(snapshot) {
    if (!cy) {
      cy = window.cytoscape({ container: $('graph'), style: graphStyle(), minZoom: 0.2, maxZoom: 3 });
    }
    const { nodes, edges } = graphElements(snapshot);
    $('graph-empty').hidden = nodes.length > 0;
    const wanted = new Set([...nodes, ...edges].map((element) => element.data.id));
    cy.batch(() => {
      cy.elements().forEach((element) => {
        if (!wanted.has(element.id())) element.remove();
      });
      for (const element of [...nodes, ...edges]) {
        const existing = cy.getElementById(element.data.id);
        if (existing.nonempty()) existing.data(element.data);
        else cy.add({ group: element.data.source ? 'edges' : 'nodes', data: element.data });
      }
    });
    // Lay out again only when the set of nodes and edges changed, so the picture holds still.
    const shape = [...wanted].sort().join('\n');
    if (shape !== graphShape) {
      graphShape = shape;
      // Breadth-first from the callers, turned to run left to right: each column's names get a line each.
      const width = $('graph').clientWidth;
      const height = $('graph').clientHeight;
      cy.layout({
        name: 'breadthfirst',
        directed: true,
        spacingFactor: 1,
        padding: 16,
        animate: false,
        // Columns at most 440 px apart, so the names beside them fit without zooming out.
        boundingBox: { x1: 0, y1: 0, w: height, h: Math.min(width, 440) },
        transform: (_node, position) => ({ x: position.y, y: position.x }),
      }).run();
    }
  }

  // ---- latency histogram -------------------------------------------------------------------
  function drawLatency(snapshot, rebuild) {
    const bounds = snapshot.latency.bounds_us;
    const labels = bounds.map((b) => `≤${microseconds(b)}`).concat(`>${microseconds(bounds[bounds.length - 1])}`);
    const xs = labels.map((_, i) => i);
    const data = [xs, snapshot.latency.counts];
    const element = $('latency');
    if (chart && !rebuild) {
      chart.setData(data);
      return;
    }
    if (chart) chart.destroy();
    const axis = { stroke: color('muted'), grid: { stroke: color('grid'), width: 1 }, ticks: { stroke: color('grid'), width: 1 } };
    chart = new window.uPlot(
      {
        width: Math.max(280, element.clientWidth),
        height: 220,
        legend: { show: false },
        cursor: { show: false },
        scales: { x: { time: false, range: [-0.5, labels.length - 0.5] }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
        axes: [
          { ...axis, splits: () => xs, values: (u, splits) => splits.map((i) => labels[i] ?? ''), rotate: -40, size: 56, font: '11px system-ui, sans-serif' },
          { ...axis, size: 48, font: '11px system-ui, sans-serif' },
        ],
        series: [{}, { label: 'Checks', fill: color('bar'), stroke: color('bar'), paths: window.uPlot.paths.bars({ size: [0.8, 64] }), points: { show: false } }],
      },
      data,
      element,
    );
  }

  // ---- the rest ------------------------------------------------------------------------------
  function drawHeader(snapshot) {
    const policy = snapshot.policy;
    $('revision').textContent = policy.revision ?? 'none loaded';
    $('revision').title = policy.bundle ?? '';
    const reload = $('reload');
    if (policy.last_reload.status === 'failed') {
      // The error itself in the header (cut to its width), in full on hover.
      reload.textContent = `failed: ${policy.last_reload.code}${policy.last_reload.message ? ` · ${policy.last_reload.message}` : ''}`;
      reload.title = `${policy.last_reload.message ?? ''} (the revision shown keeps serving)`;
      reload.className = 'failed';
    } else {
      reload.textContent = policy.loaded_at ? `ok (loaded ${new Date(policy.loaded_at).toLocaleTimeString()})` : 'ok';
      reload.title = '';
      reload.className = '';
    }
    // Workers that answered of the workers setting: fewer means some are restarting or hung, and
    // their Checks are missing from the page (a restarted worker starts counting from zero).
    const workers = snapshot.workers;
    const missing = workers !== undefined && workers.reporting < workers.configured;
    $('window').textContent = `last ${snapshot.window_seconds / 60} min${workers ? ` · ${workers.reporting}/${workers.configured} workers` : ''}`;
    $('window').className = missing ? 'failed' : '';
    $('window').title = missing ? `${workers.configured - workers.reporting} of ${workers.configured} workers did not answer (restarting or hung): their Checks are not shown` : '';
  }

  function drawStats(snapshot) {
    const checks = snapshot.checks;
    const recent = checks.allow_recent + checks.deny_recent;
    $('rate').textContent = rate(recent, snapshot.rate_seconds);
    $('rate-detail').textContent = `${(checks.allow + checks.deny).toLocaleString('en')} Checks in ${snapshot.window_seconds / 60} min`;
    $('deny-share').textContent = percent(checks.deny_recent, recent);
    $('deny-share').className = `value${checks.deny_recent > 0 ? ' bad' : ''}`;
    $('deny-detail').textContent = `${checks.deny.toLocaleString('en')} denied in ${snapshot.window_seconds / 60} min`;
    const cache = snapshot.cache;
    $('cache-hit').textContent = percent(cache.hit, cache.hit + cache.miss);
    $('cache-detail').textContent = `${cache.hit} hits · ${cache.miss} misses · ${cache.off} not cacheable`;
  }

  function drawTables(snapshot) {
    fillTable(
      $('denials'),
      snapshot.denials.map((denial) => (row) => {
        row.dataset.reasonCode = denial.reason_code;
        cell(row, denial.count.toLocaleString('en'), 'num deny');
        cell(row, denial.source, 'principal');
        cell(row, denial.destination, 'principal');
        const reason = cell(row, '');
        const code = document.createElement('span');
        code.className = 'reason-code';
        code.textContent = denial.reason_code;
        reason.append(code, document.createTextNode(denial.reason));
        cell(row, denial.example_decision_id, 'id');
      }),
      5,
      'no denials in the window',
    );
    fillTable(
      $('edges'),
      snapshot.edges.map((edge) => (row) => {
        cell(row, edge.source, 'principal');
        cell(row, edge.destination, 'principal');
        cell(row, rate(edge.allow_recent, snapshot.rate_seconds), 'num');
        cell(row, rate(edge.deny_recent, snapshot.rate_seconds), `num${edge.deny_recent > 0 ? ' deny' : ''}`);
        cell(row, edge.allow.toLocaleString('en'), 'num');
        cell(row, edge.deny.toLocaleString('en'), `num${edge.deny > 0 ? ' deny' : ''}`);
      }),
      6,
      'no Checks in the window',
    );
  }

  function render(snapshot) {
    last = snapshot;
    drawHeader(snapshot);
    drawStats(snapshot);
    drawTables(snapshot);
    drawGraph(snapshot);
    drawLatency(snapshot, false);
    updates++;
    document.body.dataset.updates = String(updates);
  }

  window.gatehouseLive = {
    graph: () => cy,
    snapshot: () => last,
    updates: () => updates,
  };

  applyTheme(storedTheme());
  // ---- connection ----------------------------------------------------------------------------
  // While the stream is down the panels are greyed out and the header says since when the data is.
  // The browser reconnects by itself after a network error; when the server answers without a
  // stream (503: too many pages open, or the page turned off) EventSource gives up, so the page
  // tries again itself every RETRY_MS.
  const RETRY_MS = 5000;
  const connection = $('connection');
  function showDown(reason) {
    const since = last ? ` · data as of ${new Date(last.now_ms).toLocaleTimeString()}` : '';
    connection.textContent = `${reason}${since}`;
    connection.className = 'connection down';
    document.body.classList.add('stale');
  }
  function connect() {
    const events = new EventSource('/live/events');
    events.addEventListener('open', () => {
      connection.textContent = 'live';
      connection.className = 'connection live';
      document.body.classList.remove('stale');
    });
    events.addEventListener('error', () => {
      if (events.readyState === EventSource.CLOSED) {
        showDown('not connected: retrying');
        setTimeout(connect, RETRY_MS);
      } else {
        showDown('reconnecting…');
      }
    });
    events.addEventListener('snapshot', (event) => render(JSON.parse(event.data)));
  }
  connect();
  window.addEventListener('resize', () => {
    if (chart) chart.setSize({ width: Math.max(280, $('latency').clientWidth), height: 220 });
  });
})();
