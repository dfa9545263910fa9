/**
 * The lab's record of its workflow executions on disk (<lab>/control/executions.jsonl), so that
 * `pgwarden history` and the dashboard still say what happened after the control plane restarts, as
 * Step Functions' history survives a redeploy in AWS. One JSON line when an execution starts and one
 * when it ends; an execution that started and never ended was cut off by the restart (the lab's
 * interpreter runs in the control plane's process) and reads as ABORTED, with that said.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

/** What the API and the CLI show of an execution (LocalRunner.summary). */
export interface ExecutionSummary {
  name: string;
  arn: string;
  workflow: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  startedAt: string;
  durationMs: number;
  input: unknown;
  output?: unknown;
  error?: { Error: string; Cause: string };
  steps: {
    state: string;
    type: string;
    durationMs?: number;
    attempts: number;
    error?: string;
    offsetMs: number;
  }[];
}

interface JournalLine {
  event: 'started' | 'ended';
  execution: ExecutionSummary;
}

/** Executions kept when the journal is read: the oldest go once it holds more than twice this. */
export const JOURNAL_KEEP = 500;

export const ABORTED_BY_RESTART = {
  Error: 'ControlPlaneRestarted',
  Cause: "the lab's control plane stopped while this execution ran (the lab runs workflows in its process)",
};

/**
 * The executions a journal records, oldest first, each as last written; one that never ended is
 * ABORTED. Lines that do not parse (a write cut short by a crash) are skipped and counted. A journal
 * of more than 2 x `keep` executions is rewritten with the newest `keep`.
 */
export function readJournal(
  file: string,
  keep = JOURNAL_KEEP,
): { executions: ExecutionSummary[]; skippedLines: number } {
  if (!existsSync(file)) return { executions: [], skippedLines: 0 };
  const byName = new Map<string, ExecutionSummary>();
  let skippedLines = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let j: JournalLine;
    try {
      j = JSON.parse(line) as JournalLine;
    } catch {
      skippedLines++;
      continue;
    }
    const e = j?.execution;
    if ((j?.event !== 'started' && j?.event !== 'ended') || typeof e?.name !== 'string') {
      skippedLines++;
      continue;
    }
    // A name started again (after a restart, the lab's names are free again) is a new execution.
    if (j.event === 'started') byName.delete(e.name);
    byName.set(e.name, e);
  }
  const all = [...byName.values()].map((e) =>
    e.status === 'RUNNING' ? { ...e, status: 'ABORTED' as const, error: ABORTED_BY_RESTART } : e,
  );
  const executions = all.slice(-keep);
  if (all.length > 2 * keep)
    writeFileSync(file, executions.map((e) => JSON.stringify({ event: 'ended', execution: e }) + '\n').join(''), {
      mode: 0o600,
    });
  return { executions, skippedLines };
}

/** One line for an execution that started or ended; a failed write is reported, never thrown. */
export function appendJournal(file: string, event: JournalLine['event'], e: ExecutionSummary): string | undefined {
  try {
    appendFileSync(file, JSON.stringify({ event, execution: e }) + '\n', { mode: 0o600 });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
