/**
 * The latest log digest for the dashboard: the nightly digest Lambda's analysis (functions/logdigest)
 * over the last 24 hours of every lab node's jsonlog files, cached briefly (it reads every file).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { digestFiles } from '../../../functions/logdigest/digest';
import type { DigestReport } from '../../../functions/logdigest/report';
import type { Lab } from '../lab';

const CACHE_MS = 30_000;

export function latestDigest(lab: Lab): () => Promise<DigestReport> {
  let cached: { at: number; report: Promise<DigestReport> } | undefined;
  return () => {
    if (cached && Date.now() - cached.at < CACHE_MS) return cached.report;
    const files = lab.config().nodes.flatMap((n) => {
      const dir = lab.logDir(n.name);
      return existsSync(dir)
        ? readdirSync(dir)
            .filter((f) => f.endsWith('.json'))
            .map((f) => join(dir, f))
        : [];
    });
    const report = digestFiles(files, { since: new Date(Date.now() - 24 * 3600_000), top: 5 });
    cached = { at: Date.now(), report };
    report.catch(() => (cached = undefined));
    return report;
  };
}
