/**
 * Workflow execution names. Both runtimes name executions the same way, and the name is what
 * collapses duplicate triggers for one failure into one execution (safety invariant 3): Step
 * Functions refuses a second execution with the same name, and the lab's runner applies the same rule.
 *
 * Pure on purpose (no AWS import): triggers in both runtimes call it.
 */
import { createHash } from 'node:crypto';

/** Step Functions allows 1-80 characters; we keep to the subset that is safe everywhere. */
export const EXECUTION_NAME_MAX = 80;
const VALID = /^[A-Za-z0-9_-]{1,80}$/;
const HASH_LENGTH = 12;

export function isValidExecutionName(name: string): boolean {
  return VALID.test(name);
}

/**
 * Joins `parts` with '-', replaces every character outside [A-Za-z0-9_-] with '-', and keeps it
 * within 80 characters. Deterministic: the same parts always give the same name.
 *
 * When the name had to change (a character replaced, or truncated), a hash of the original text
 * is appended, so that two different inputs cannot collapse into one name
 * (e.g. clusters "prod.1" and "prod-1", or two long names sharing their first 80 characters).
 */
export function executionName(parts: string[]): string {
  const raw = parts.join('-');
  if (raw.length === 0) throw new Error('executionName: at least one non-empty part is required');
  const clean = raw.replace(/[^A-Za-z0-9_-]/g, '-');
  if (clean === raw && clean.length <= EXECUTION_NAME_MAX) return clean;
  const hash = createHash('sha256').update(raw, 'utf8').digest('hex').slice(0, HASH_LENGTH);
  const room = EXECUTION_NAME_MAX - HASH_LENGTH - 1;
  return `${clean.slice(0, room)}-${hash}`;
}
