/**
 * The lab keeps passwords, its API token and the database files in its folder: the folder must be
 * one that no other local user created or can write into (a folder someone else made at a known path
 * under /var/tmp would hand them the lab).
 */
import { lstatSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { runSync } from './proc';

/**
 * Creates `dir` with `mode` if missing; refuses a folder that is a symlink, is owned by another
 * user than `owners` (uids), or that group or others may write into. Changes nothing when it refuses.
 */
export function ensurePrivateDir(dir: string, owners: number[], mode = 0o700): void {
  mkdirSync(dirname(dir), { recursive: true });
  try {
    mkdirSync(dir, { mode });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const problem = privateDirProblem(dir, owners);
  if (problem) throw new Error(problem);
}

export function privateDirProblem(dir: string, owners: number[]): string | undefined {
  const st = lstatSync(dir);
  if (st.isSymbolicLink()) return `${dir} is a symbolic link: the lab folder must be a real folder`;
  if (!st.isDirectory()) return `${dir} is not a folder`;
  if (!owners.includes(st.uid))
    return `${dir} belongs to uid ${st.uid}, not to this user (uid ${owners.join(' or ')}): choose another PGWARDEN_LAB_DIR`;
  if (st.mode & 0o022)
    return `${dir} is writable by group or others (mode ${(st.mode & 0o777).toString(8)}): choose another PGWARDEN_LAB_DIR`;
  return undefined;
}

/** The uid of a local user, e.g. the postgres OS user the nodes run as when the lab runs as root. */
export function uidOf(user: string): number | undefined {
  const r = runSync('id', ['-u', user]);
  return r.code === 0 ? Number(r.stdout.trim()) : undefined;
}
