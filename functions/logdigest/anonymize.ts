/**
 * --anonymize: the report without the literal values of the input. Every query text (examples, the
 * slowest statements, deadlock statements) is replaced by its normalized form (literals and
 * parameters as ?), bind parameters are dropped, and plans, deadlock details and error examples keep
 * their shape with quoted strings and numbers replaced. What remains are names (tables, databases,
 * users), counts and times, which an incident needs. The nightly Lambda anonymizes by default.
 */
import { normalizeMessage } from './analyzer';
import { normalizeQuery } from './normalize';
import type { DigestReport } from './report';

/** Quoted strings ('...' with '' inside, and E'...' / $$...$$ bodies) and numbers as ?. */
export function scrubLiterals(text: string): string {
  return text
    .replace(/\$([A-Za-z_]*)\$[\s\S]*?\$\1\$/g, '?')
    .replace(/[eE]?'(?:[^'\\]|''|\\.)*'/g, "'?'")
    .replace(/(^|[^A-Za-z0-9_$.])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b/g, '$1?');
}

/** A plan keeps its operators, costs, row counts and timings; conditions and the query text lose their literals. */
export function scrubPlan(plan: string): string {
  return plan
    .split('\n')
    .map((line) => {
      const m = /^(\s*(?:Query Text|[A-Za-z -]*(?:Cond|Filter)|Output|Sort Key|Group Key|Hash Key):\s)(.*)$/.exec(line);
      return m ? m[1] + scrubLiterals(m[2]) : line.replace(/'(?:[^']|'')*'/g, "'?'");
    })
    .join('\n');
}

const query = (q: string) => normalizeQuery(q).query;

export function anonymizeReport(r: DigestReport): DigestReport {
  const stats = (qs: DigestReport['top_queries_by_count']) => qs.map((q) => ({ ...q, example: query(q.example) }));
  return {
    ...r,
    top_queries_by_total_time: stats(r.top_queries_by_total_time),
    top_queries_by_count: stats(r.top_queries_by_count),
    slowest: r.slowest.map(({ parameters: _p, ...s }) => ({
      ...s,
      query: query(s.query),
      ...(s.plan ? { plan: scrubPlan(s.plan) } : {}),
    })),
    errors_by_sqlstate: r.errors_by_sqlstate.map((e) => ({
      ...e,
      example: normalizeMessage(scrubLiterals(e.example)),
    })),
    top_error_messages: r.top_error_messages.map((e) => ({ ...e, message: scrubLiterals(e.message) })),
    deadlocks: {
      ...r.deadlocks,
      events: r.deadlocks.events.map((e) => ({ ...e, detail: scrubLiterals(e.detail), statement: query(e.statement) })),
    },
    notes: [...r.notes, 'Anonymized: literals in queries, plans, parameters and messages are shown as ?.'],
  };
}
