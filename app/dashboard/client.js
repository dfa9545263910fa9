/* global document, window, fetch, uPlot, setTimeout, ResizeObserver, URL */
// The operator dashboard's browser side: polls the app's /dashboard/api/* every 2 s and renders the
// topology, pgpool's view, metric charts (uPlot), workflow executions and traces. Plain script, no
// build step. The same page serves the lab (control plane) and AWS (app/dashboard/aws-source.ts),
// where some values are unknown (no pgpool view, a standby's streaming before the prober reports it):
// those show n/a.
'use strict';

const REFRESH_MS = 2000;
const CHARTS = [
  { title: 'Write probe latency (ms)', metric: 'PrimaryProbeLatency', by: null },
  { title: 'Replication lag (bytes)', metric: 'ReplicationLagBytes', by: 'Node' },
  { title: 'Streaming standbys', metric: 'StreamingStandbys', by: null },
  { title: 'Node up', metric: 'NodeUp', by: 'Node' },
  { title: 'Timeline', metric: 'Timeline', by: null },
  { title: 'App transactions, last 10 min', metric: 'TransactionsLast10Min', by: null },
];
const COLORS = ['#1764d8', '#12865a', '#d6453d', '#b7791f', '#7c3aed', '#0e7490'];
const charts = new Map();

const $ = (id) => document.getElementById(id);
const esc = (s) =>
  String(s ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
const ms = (v) =>
  v === null || v === undefined ? '…' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`;
const bytes = (v) =>
  v === undefined || v === null
    ? '–'
    : v < 1024
      ? `${v} B`
      : v < 1048576
        ? `${(v / 1024).toFixed(1)} kB`
        : `${(v / 1048576).toFixed(1)} MB`;
const ago = (iso) => {
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
};

async function get(name) {
  const r = await fetch(`/dashboard/api/${name}`, { cache: 'no-store' });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || `${name}: HTTP ${r.status}`);
  return body;
}

function renderStatus(s) {
  $('cluster').textContent = s.cluster;
  const primary = s.nodes.find((n) => n.role === 'primary');
  $('primary').textContent = primary ? primary.name : 'none';
  $('timeline').textContent = s.timeline;
  $('automation').textContent = s.automation;
  const firing = Object.entries(s.alarms || {})
    .filter(([, state]) => state === 'ALARM')
    .map(([name]) => name.replace(`pgwarden-${s.cluster}-`, ''));
  $('alarms').textContent = s.alarms ? (firing.length ? firing.join(', ') : 'none') : 'n/a';
  $('alarms').className = firing.length ? 'bad' : '';
  $('nodes').innerHTML = s.nodes
    .map(
      (n) => `<div class="node ${esc(n.role)}" data-testid="node" data-node="${esc(n.name)}" data-role="${esc(n.role)}">
        <div><span class="name">${esc(n.name)}</span><span class="role ${esc(n.role)}">${esc(n.role)}</span>${n.fenced ? ' <span class="bad">fenced</span>' : ''}</div>
        <div class="kv">
          <span>port</span><span>${n.port ?? 'n/a'}</span>
          <span>timeline</span><span>${n.timeline ?? '–'}</span>
          ${n.role === 'standby' ? `<span>upstream</span><span>${esc(n.upstream ?? '–')} ${n.streaming === undefined ? '<span class="muted">streaming n/a</span>' : n.streaming ? '<span class="ok">streaming</span>' : '<span class="bad">not streaming</span>'}</span>` : ''}
          ${n.role === 'standby' ? `<span>lag</span><span>${bytes(n.lagBytes)}${n.replayLagMs !== undefined ? ` · ${ms(n.replayLagMs)}` : ''}${n.syncState ? ` · ${esc(n.syncState)}` : ''}</span>` : ''}
          ${n.role === 'primary' ? `<span>WAL</span><span><code>${esc(n.currentLsn ?? '–')}</code></span>` : ''}
          ${n.error ? `<span>error</span><span class="bad">${esc(n.error).slice(0, 80)}</span>` : ''}
        </div>
      </div>`,
    )
    .join('');
  if (!Array.isArray(s.pgpools)) {
    $('pgpools').innerHTML =
      `<p class="muted" data-testid="pgpool-na">${esc(s.pgpoolsUnavailable || 'pgpool view n/a')}</p>`;
    return;
  }
  $('pgpools').innerHTML = s.pgpools
    .map(
      (
        p,
      ) => `<table data-testid="pgpool"><thead><tr><th>${esc(p.name)} :${p.port}</th><th>status</th><th>role</th><th>selects</th><th>delay</th></tr></thead><tbody>
      ${
        p.up
          ? p.nodes
              .map(
                (x) =>
                  `<tr><td>${esc(x.name)}</td><td class="${x.status === 'up' ? 'ok' : 'bad'}">${esc(x.status)}</td><td>${esc(x.role)}${x.loadBalanceNode ? ' <span class="muted">(lb)</span>' : ''}</td><td>${x.selectCount}</td><td>${x.replicationDelay}</td></tr>`,
              )
              .join('')
          : `<tr><td colspan="5" class="bad">unreachable: ${esc(p.error)}</td></tr>`
      }</tbody></table>`,
    )
    .join('');
}

function chartWidth(el) {
  return Math.max(260, Math.floor(el.getBoundingClientRect().width));
}

function renderCharts(series) {
  const root = $('charts');
  for (const def of CHARTS) {
    const matching = series.filter(
      (s) =>
        s.name === def.metric &&
        (def.by ? s.dimensions[def.by] !== undefined : Object.keys(s.dimensions).join() === 'Cluster'),
    );
    if (!matching.length) continue;
    matching.sort((a, b) => String(a.dimensions[def.by] ?? '').localeCompare(String(b.dimensions[def.by] ?? '')));
    // One x axis (seconds) for all series of the chart: the union of their sample times.
    const times = [...new Set(matching.flatMap((s) => s.samples.map((x) => Math.round(x.t / 1000))))].sort(
      (a, b) => a - b,
    );
    const index = new Map(times.map((t, i) => [t, i]));
    const ys = matching.map((s) => {
      const col = new Array(times.length).fill(null);
      for (const x of s.samples) col[index.get(Math.round(x.t / 1000))] = x.v;
      return col;
    });
    const labels = matching.map((s) => (def.by ? s.dimensions[def.by] : def.metric));
    const data = [times, ...ys];
    let c = charts.get(def.metric);
    const key = labels.join();
    if (c && c.key !== key) {
      c.plot.destroy();
      c.box.remove();
      c = undefined;
    }
    if (!c) {
      const box = document.createElement('div');
      box.className = 'chart';
      box.dataset.testid = 'chart';
      box.dataset.metric = def.metric;
      box.innerHTML = `<h3>${esc(def.title)}</h3><div class="plot"></div>`;
      root.appendChild(box);
      const plotEl = box.querySelector('.plot');
      const plot = new uPlot(
        {
          width: chartWidth(plotEl),
          height: 170,
          spanGaps: true,
          legend: { show: labels.length > 1 },
          scales: { x: { time: true } },
          axes: [{ size: 30 }, { size: 56 }],
          series: [
            {},
            ...labels.map((l, i) => ({
              label: l,
              stroke: COLORS[i % COLORS.length],
              width: 1.6,
              points: { show: false },
            })),
          ],
        },
        data,
        plotEl,
      );
      c = { plot, box, key };
      charts.set(def.metric, c);
      new ResizeObserver(() => c.plot.setSize({ width: chartWidth(plotEl), height: 170 })).observe(plotEl);
    } else {
      c.plot.setData(data);
    }
    c.box.dataset.points = String(times.length);
  }
}

function stepBars(steps, total) {
  return steps
    .filter((s) => s.durationMs !== undefined && s.durationMs !== null)
    .map(
      (s) =>
        `<tr class="trace-spans"><td>${esc(s.state)}${s.attempts > 1 ? ` <span class="muted">×${s.attempts}</span>` : ''}</td><td class="bar-cell"><div class="bars"><div class="bar${s.error ? ' err' : ''}" style="left:${(100 * s.offsetMs) / total}%;width:${Math.max(0.8, (100 * s.durationMs) / total)}%"></div></div></td><td>${ms(s.durationMs)}</td></tr>`,
    )
    .join('');
}

/** Replace a list's HTML, keeping open the <details> the operator opened. */
function replaceKeepingOpen(el, html) {
  const open = new Set([...el.querySelectorAll('details[open]')].map((d) => d.dataset.id));
  const first = !el.dataset.rendered;
  el.innerHTML = html;
  el.dataset.rendered = '1';
  for (const d of el.querySelectorAll('details'))
    if (open.has(d.dataset.id) || (first && d.dataset.first)) d.open = true;
}

function renderExecutions(list) {
  const recent = list.slice(-8).reverse();
  if (!recent.length) {
    $('executions').innerHTML = '<p class="muted">No workflow has run yet.</p>';
    return;
  }
  replaceKeepingOpen(
    $('executions'),
    recent
      .map((e, i) => {
        const outcome = (e.output && e.output.record && e.output.record.outcome) || '';
        const cls = e.status === 'SUCCEEDED' ? 'ok' : e.status === 'RUNNING' ? 'muted' : 'bad';
        return `<details data-testid="execution" data-id="${esc(e.name)}" ${i === 0 ? 'data-first="1"' : ''}><summary><b>${esc(e.workflow)}</b> <span class="${cls}">${esc(e.status)}</span> ${esc(outcome)} · ${ms(e.durationMs)} · <span class="muted">${ago(e.startedAt)}</span></summary>
        <table>${stepBars(e.steps, Math.max(1, e.durationMs))}</table></details>`;
      })
      .join(''),
  );
}

function renderTraces(list) {
  if (!list.length) {
    $('traces').innerHTML = '<p class="muted">No trace yet: every request to the app sends one.</p>';
    return;
  }
  replaceKeepingOpen(
    $('traces'),
    list
      .slice(0, 10)
      .map((t, i) => {
        const total = Math.max(0.001, t.durationMs || 0, ...t.spans.map((s) => s.offsetMs + (s.durationMs || 0)));
        const path = t.url && URL.canParse(t.url) ? new URL(t.url).pathname : t.name;
        const cls = t.status >= 500 || t.fault ? 'bad' : t.status >= 400 ? 'muted' : 'ok';
        const rows = t.spans
          .map((s) => {
            const kind =
              s.depth === 0 ? 'root' : s.name.startsWith('redis') ? 'redis' : s.name.startsWith('postgres') ? 'pg' : '';
            return `<tr class="trace-spans"><td style="padding-left:${6 + 12 * s.depth}px">${esc(s.name)}${s.sql ? ` <code class="muted">${esc(s.sql.slice(0, 48))}</code>` : ''}</td><td class="bar-cell"><div class="bars"><div class="bar ${kind}${s.error || s.fault ? ' err' : ''}" style="left:${(100 * s.offsetMs) / total}%;width:${Math.max(0.8, (100 * (s.durationMs ?? total - s.offsetMs)) / total)}%"></div></div></td><td>${ms(s.durationMs)}</td></tr>`;
          })
          .join('');
        return `<details data-testid="trace" data-id="${esc(t.id)}" ${i === 0 ? 'data-first="1"' : ''}><summary><b>${esc(t.method || '')} ${esc(path)}</b> <span class="${cls}">${esc(t.status ?? '')}</span> · ${ms(t.durationMs)} · <span class="muted">${ago(t.startedAt)} · ${esc(t.id)}</span></summary><table>${rows}</table></details>`;
      })
      .join(''),
  );
}

function renderDigest(d) {
  const t = d.totals;
  const kv = [
    ['statements', t.statements],
    ['errors', t.errors],
    ['connections', t.connections],
    ['checkpoints', t.checkpoints],
    ['temp files', t.temp_files],
    ['lock waits', t.lock_waits],
    ['deadlocks', t.deadlocks],
    ['autovacuum', t.autovacuum],
  ];
  const errors = (d.top_error_messages || [])
    .slice(0, 3)
    .map(
      (e) =>
        `<tr><td>${e.count}×</td><td>${esc(e.severity)} ${esc(e.sqlstate)}</td><td>${esc(e.message).slice(0, 120)}</td></tr>`,
    )
    .join('');
  const queries = (d.top_queries_by_total_time || [])
    .slice(0, 3)
    .map(
      (q) =>
        `<tr><td>${ms(q.total_ms)}</td><td>${q.count}×</td><td><code>${esc(q.query).slice(0, 120)}</code></td></tr>`,
    )
    .join('');
  $('digest').innerHTML =
    `<div class="stats" data-testid="digest">${kv.map(([k, v]) => `<div><b>${v}</b>${k}</div>`).join('')}</div>
    <p class="muted">${d.input.entries} log entries, ${bytes(d.input.bytes)} from ${d.input.sources.length} files · generated ${ago(d.generated_at)}</p>
    ${errors ? `<table><thead><tr><th colspan="3">top errors</th></tr></thead><tbody>${errors}</tbody></table>` : ''}
    ${queries ? `<table><thead><tr><th colspan="3">top queries by total time</th></tr></thead><tbody>${queries}</tbody></table>` : ''}`;
}

async function refresh() {
  const problems = [];
  const part = async (name, render) => {
    try {
      render(await get(name));
    } catch (e) {
      problems.push(e.message);
    }
  };
  await Promise.all([
    part('status', renderStatus),
    part('metrics', (m) => {
      if (m.source) $('metrics-title').textContent = `Metrics (${m.source}, last hour)`;
      renderCharts(m.series);
    }),
    part('executions', (x) => renderExecutions(x.executions)),
    part('traces', (x) => renderTraces(x.traces)),
    part('digest', renderDigest),
  ]);
  $('error').style.display = problems.length ? 'block' : 'none';
  $('error').textContent = problems.join(' · ');
  $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  setTimeout(refresh, REFRESH_MS);
}

window.addEventListener('DOMContentLoaded', refresh);
