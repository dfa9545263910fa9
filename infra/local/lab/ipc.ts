/**
 * System V shared memory a lab's PostgreSQL nodes leave behind. A postmaster keeps a small SysV
 * segment as an interlock (its key and id on line 7 of postmaster.pid); a clean stop removes it and
 * a start in the same data directory removes one left by a killed postmaster, but a data directory
 * that is deleted after a SIGKILL (lab down --purge, scale-in) leaves it in the kernel for good. Over
 * many labs they reach the kernel's limit on segments (shmmni) and no node starts any more.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSync } from '../proc';
import type { Lab } from './lab';

export interface NodeSegment {
  key: number;
  shmid: number;
}

/** The segment named by a data directory's postmaster.pid, if the file names one. */
export function nodeSegment(dataDir: string): NodeSegment | undefined {
  const f = join(dataDir, 'postmaster.pid');
  if (!existsSync(f)) return undefined;
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(readFileSync(f, 'utf8').split('\n')[6] ?? '');
  return m ? { key: Number(m[1]), shmid: Number(m[2]) } : undefined;
}

/** The kernel's view of a segment (/proc/sysvipc/shm): its attach count, or undefined when it is gone. */
export function segmentAttachments(seg: NodeSegment): number | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/sysvipc/shm', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (Number(f[0]) === seg.key && Number(f[1]) === seg.shmid) return Number(f[6]);
  }
  return undefined;
}

/**
 * Removes the segment a killed postmaster of this data directory left, when no process is attached
 * to it any more (both its key and its id must match: ids are reused). Returns what it did.
 */
export function releaseNodeSegment(dataDir: string): 'removed' | 'none' | 'in use' | 'failed' {
  const seg = nodeSegment(dataDir);
  if (!seg) return 'none';
  const n = segmentAttachments(seg);
  if (n === undefined) return 'none';
  if (n > 0) return 'in use';
  return runSync('ipcrm', ['-m', String(seg.shmid)]).code === 0 ? 'removed' : 'failed';
}

/** The SysV segment a killed postmaster of this node left, removed before its data directory goes. */
export function releaseSegmentOf(lab: Lab, node: string): void {
  const r = releaseNodeSegment(lab.dataDir(node));
  if (r === 'failed' || r === 'in use')
    lab.log(`${node}: the shared memory segment named by its postmaster.pid could not be removed (${r})`);
}
