/** Renderers of a DigestReport: json (the stable format), Markdown and a standalone HTML page. */
import type { Counted, DigestReport, QueryStats } from './report';

export type OutputFormat = 'md' | 'json' | 'html';

export function render(r: DigestReport, format: OutputFormat): string {
  if (format === 'json') return JSON.stringify(r, null, 2) + '\n';
  return format === 'html' ? renderHtml(r) : renderMarkdown(r);
}

type Cell = string | number;
interface Table {
  title: string;
  head: string[];
  rows: Cell[][];
}

const fmtMs = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(1)} ms`);
const fmtBytes = (v: number) => {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
};
const queryRows = (qs: QueryStats[]) =>
  qs.map((q) => [q.query, q.count, q.timed, fmtMs(q.total_ms), fmtMs(q.mean_ms), fmtMs(q.max_ms), fmtMs(q.p95_ms)]);
const QUERY_HEAD = ['query', 'count', 'timed', 'total', 'mean', 'max', 'p95'];
const counted = (title: string, xs: Counted[], what = 'name'): Table => ({
  title,
  head: [what, 'count'],
  rows: xs.map((x) => [x.name || '(none)', x.count]),
});

function sections(r: DigestReport): { heading: string; tables: Table[] }[] {
  const t = r.totals;
  return [
    {
      heading: 'Overview',
      tables: [
        {
          title: '',
          head: ['figure', 'value'],
          rows: [
            ['period', `${r.period.first_entry ?? '-'} .. ${r.period.last_entry ?? '-'}`],
            ['statements', t.statements],
            ['statement time', fmtMs(t.duration_ms)],
            ['errors (ERROR+FATAL+PANIC)', t.errors],
            ['warnings', t.errors_by_severity.WARNING],
            ['connections', t.connections],
            ['sessions', t.sessions],
            ['checkpoints', t.checkpoints],
            ['temp files', `${t.temp_files} (${fmtBytes(t.temp_bytes)})`],
            ['lock waits', t.lock_waits],
            ['deadlocks', t.deadlocks],
            ['autovacuum / autoanalyze', `${t.autovacuum} / ${t.autoanalyze}`],
            ['input', `${fmtBytes(r.input.bytes)}, ${r.input.lines} lines, ${r.input.skipped_lines} skipped`],
          ],
        },
        {
          title: 'Statements by type',
          head: ['type', 'count'],
          rows: Object.entries(r.statements_by_type).filter(([, n]) => n > 0),
        },
      ],
    },
    {
      heading: `Timeline (per ${r.timeline.bucket}, UTC)`,
      tables: [
        {
          title: '',
          head: ['start', ...r.timeline.series.map((x) => x.replace('_', ' '))],
          rows: r.timeline.points.map((p) => [p.start, ...r.timeline.series.map((x) => p[x])]),
        },
      ],
    },
    {
      heading: 'Queries',
      tables: [
        { title: 'Top queries by total time', head: QUERY_HEAD, rows: queryRows(r.top_queries_by_total_time) },
        { title: 'Top queries by count', head: QUERY_HEAD, rows: queryRows(r.top_queries_by_count) },
        {
          title: 'Slowest statements',
          head: ['time', 'duration', 'database', 'user', 'application', 'query'],
          rows: r.slowest.map((s) => [s.time, fmtMs(s.duration_ms), s.database, s.user, s.application, s.query]),
        },
      ],
    },
    {
      heading: 'Errors',
      tables: [
        {
          title: 'By severity',
          head: ['severity', 'count'],
          rows: Object.entries(r.totals.errors_by_severity),
        },
        {
          title: 'By SQLSTATE',
          head: ['sqlstate', 'count', 'severities', 'example'],
          rows: r.errors_by_sqlstate.map((e) => [
            e.sqlstate,
            e.count,
            Object.entries(e.by_severity)
              .map(([k, v]) => `${k} ${v}`)
              .join(', '),
            e.example,
          ]),
        },
        {
          title: 'Most frequent messages',
          head: ['severity', 'sqlstate', 'count', 'message'],
          rows: r.top_error_messages.map((e) => [e.severity, e.sqlstate, e.count, e.message]),
        },
      ],
    },
    {
      heading: 'Locks',
      tables: [
        {
          title: '',
          head: ['figure', 'value'],
          rows: [
            ['lock waits (> deadlock_timeout)', r.lock_waits.count],
            ['waits ended (acquired)', r.lock_waits.acquired],
            ['longest wait', fmtMs(r.lock_waits.max_wait_ms)],
            ['deadlocks', r.deadlocks.count],
          ],
        },
        counted('Waits by lock mode', r.lock_waits.by_lock_mode, 'mode'),
        counted('Waiting queries', r.lock_waits.top_queries, 'query'),
        {
          title: 'Deadlocks',
          head: ['time', 'database', 'detail'],
          rows: r.deadlocks.events.map((d) => [d.time, d.database, d.detail]),
        },
      ],
    },
    {
      heading: 'Checkpoints, autovacuum, temp files',
      tables: [
        {
          title: 'Checkpoints',
          head: ['figure', 'value'],
          rows: [
            ['checkpoints', r.checkpoints.count],
            ['restartpoints', r.checkpoints.restartpoints],
            ['buffers written', r.checkpoints.buffers_written],
            [
              'WAL files added / removed / recycled',
              `${r.checkpoints.wal_added} / ${r.checkpoints.wal_removed} / ${r.checkpoints.wal_recycled}`,
            ],
            ['longest checkpoint', `${r.checkpoints.max_total_s} s`],
            ['warnings (too frequent)', r.checkpoints.warnings],
          ],
        },
        counted('Checkpoint reasons', r.checkpoints.by_reason, 'reason'),
        {
          title: 'Autovacuum and autoanalyze by table',
          head: ['table', 'vacuum', 'analyze'],
          rows: r.autovacuum.tables.map((x) => [x.table, x.vacuum, x.analyze]),
        },
        {
          title: 'Temp files by query',
          head: ['query', 'files', 'size'],
          rows: r.temp_files.top_queries.map((x) => [x.query, x.count, fmtBytes(x.bytes)]),
        },
      ],
    },
    {
      heading: 'Connections and sessions',
      tables: [
        {
          title: '',
          head: ['figure', 'value'],
          rows: [
            ['connections', r.connections.total],
            ['replication connections', r.connections.replication],
            [
              'peak connections per second',
              `${r.connections.peak_per_second.count} at ${r.connections.peak_per_second.time ?? '-'}`,
            ],
            ['sessions', r.sessions.total],
            ['mean session', `${r.sessions.mean_duration_s} s`],
            [
              'peak concurrent sessions',
              `${r.sessions.peak_concurrent.count} at ${r.sessions.peak_concurrent.time ?? '-'}`,
            ],
          ],
        },
        counted('Connections by database', r.connections.by_database, 'database'),
        counted('Connections by user', r.connections.by_user, 'user'),
        counted('Connections by application', r.connections.by_application, 'application'),
        counted('Connections by client', r.connections.by_client, 'client'),
        counted('Sessions by database', r.sessions.by_database, 'database'),
        counted('Sessions by user', r.sessions.by_user, 'user'),
        counted('Sessions by application', r.sessions.by_application, 'application'),
      ],
    },
    {
      heading: 'Replication and failover',
      tables: [
        {
          title: '',
          head: ['figure', 'value'],
          rows: [
            ['promotions', r.replication.promotions],
            ['timeline changes', r.replication.timeline_changes],
            ['replication commands', r.replication.replication_commands],
          ],
        },
        {
          title: 'Events',
          head: ['time', 'kind', 'source', 'message'],
          rows: r.replication.events.map((e) => [e.time, e.kind, e.source, e.message]),
        },
      ],
    },
  ];
}

const mdCell = (c: Cell) => String(c).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ').slice(0, 300);

export function renderMarkdown(r: DigestReport): string {
  const out: string[] = [`# PostgreSQL log digest`, '', `Generated ${r.generated_at}.`, ''];
  for (const s of sections(r)) {
    out.push(`## ${s.heading}`, '');
    for (const t of s.tables) {
      if (t.title) out.push(`### ${t.title}`, '');
      if (t.rows.length === 0) {
        out.push('(none)', '');
        continue;
      }
      out.push(`| ${t.head.join(' | ')} |`, `| ${t.head.map(() => '---').join(' | ')} |`);
      for (const row of t.rows) out.push(`| ${row.map(mdCell).join(' | ')} |`);
      out.push('');
    }
  }
  const planned = r.slowest.filter((s) => s.plan);
  if (planned.length > 0) {
    out.push('## Plans of the slowest statements', '');
    for (const s of planned) out.push(`### ${s.time} (${fmtMs(s.duration_ms)})`, '', '```', s.plan ?? '', '```', '');
  }
  out.push('## Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  return out.join('\n');
}

const esc = (s: Cell) =>
  String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

/** One small bar chart per timeline series (inline SVG: the report stays one self-contained file). */
function timelineCharts(r: DigestReport): string {
  const pts = r.timeline.points;
  if (!pts.length) return '';
  const W = 560;
  const H = 80;
  const bw = W / pts.length;
  const charts = r.timeline.series.map((name) => {
    const vs = pts.map((p) => p[name]);
    const max = Math.max(1, ...vs);
    const total = vs.reduce((a, b) => a + b, 0);
    const bars = vs
      .map((v, i) =>
        v === 0
          ? ''
          : `<rect x="${(i * bw).toFixed(2)}" y="${(H - (v / max) * H).toFixed(2)}" width="${Math.max(bw - 1, 0.5).toFixed(2)}" height="${((v / max) * H).toFixed(2)}"><title>${esc(pts[i].start)}: ${v}</title></rect>`,
      )
      .join('');
    return `<figure class="chart"><figcaption>${esc(name.replace('_', ' '))}: ${total} (max ${max} per ${esc(r.timeline.bucket)})</figcaption><svg viewBox="0 0 ${W} ${H + 14}" width="${W}" height="${H + 14}" role="img" aria-label="${esc(name)} per ${esc(r.timeline.bucket)}"><g fill="#3572b0">${bars}</g><line x1="0" y1="${H}" x2="${W}" y2="${H}" stroke="#999"/><text x="0" y="${H + 12}" font-size="10">${esc(pts[0].start)}</text><text x="${W}" y="${H + 12}" font-size="10" text-anchor="end">${esc(pts[pts.length - 1].start)}</text></svg></figure>`;
  });
  return `<div class="charts">${charts.join('')}</div>`;
}

export function renderHtml(r: DigestReport): string {
  const body: string[] = [];
  for (const s of sections(r)) {
    body.push(`<h2>${esc(s.heading)}</h2>`);
    if (s.heading.startsWith('Timeline')) body.push(timelineCharts(r));
    for (const t of s.tables) {
      if (t.title) body.push(`<h3>${esc(t.title)}</h3>`);
      if (t.rows.length === 0) {
        body.push('<p>(none)</p>');
        continue;
      }
      body.push(
        '<table>',
        `<tr>${t.head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>`,
        ...t.rows.map((row) => `<tr>${row.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`),
        '</table>',
      );
    }
  }
  const planned = r.slowest.filter((s) => s.plan);
  if (planned.length > 0) {
    body.push('<h2>Plans of the slowest statements</h2>');
    for (const s of planned)
      body.push(`<h3>${esc(s.time)} (${esc(fmtMs(s.duration_ms))})</h3>`, `<pre>${esc(s.plan ?? '')}</pre>`);
  }
  body.push('<h2>Notes</h2>', '<ul>', ...r.notes.map((n) => `<li>${esc(n)}</li>`), '</ul>');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>PostgreSQL log digest</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top;max-width:60em;overflow-wrap:anywhere}th{background:#eee}pre{background:#f6f6f6;padding:1em;overflow:auto}.charts{display:flex;flex-wrap:wrap;gap:1em}.chart{margin:0}figcaption{font-size:90%}</style>
</head><body>
<h1>PostgreSQL log digest</h1>
<p>Generated ${esc(r.generated_at)}.</p>
${body.join('\n')}
</body></html>
`;
}
