/**
 * `npm run bench -- lab`: time for `lab up` from nothing; pgbench TPS straight to the primary vs
 * through pgpool (simple, extended and prepared protocol, and the latter two against the simple one
 * through pgpool, the same run); read-only TPS through pgpool with load balancing to
 * the standbys on vs off (off: every query carries pgpool's NO LOAD BALANCE comment).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab } from '../infra/local/lab';
import { run as sh } from '../infra/local/proc';
import { saveResults, table } from './util';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);

export async function run(_argv: string[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-bench-lab-'));
  const lab = new Lab({ dir, portBase: 27000, log: () => undefined });
  const t0 = Date.now();
  await lab.up();
  const upMs = Date.now() - t0;
  try {
    const s = lab.secrets();
    const c = lab.config();
    // The app's role and database, as a client would: pgpool holds no automation or superuser password.
    const env = { ...process.env, PGPASSWORD: s.PGW_PW_APP };
    const pgbench = async (port: number, args: string[]) => {
      const r = await sh(`${c.pgbin}/pgbench`, ['-h', '127.0.0.1', '-p', String(port), '-U', 'app', ...args, 'app'], {
        env,
        timeoutMs: 600_000,
      });
      if (r.code !== 0) throw new Error(`pgbench ${args.join(' ')}: ${r.stderr.slice(-400)}`);
      const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(r.stdout);
      return m ? Number(m[1]) : NaN;
    };
    const primaryPort = lab.node(lab.readTopology().primary).port;
    await pgbench(primaryPort, ['-i', '-q', '-s', '10']);
    const noLb = join(dir, 'select-no-lb.sql');
    writeFileSync(
      noLb,
      '\\set aid random(1, 100000 * :scale)\n/*NO LOAD BALANCE*/ SELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n',
    );
    const lb = join(dir, 'select-lb.sql');
    writeFileSync(
      lb,
      '\\set aid random(1, 100000 * :scale)\nSELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n',
    );
    const pool = c.pgpools[0].port;
    const common = ['-c', String(CLIENTS), '-j', '2', '-T', String(SECONDS), '-n'];
    const rows: (string | number)[][] = [['workload', 'target', 'protocol', 'tps']];
    const results: Record<string, number> = {};
    const add = async (name: string, target: string, proto: string, port: number, args: string[]) => {
      const tps = await pgbench(port, [...common, '-M', proto, ...args]);
      results[`${name} ${target} ${proto}`] = tps;
      rows.push([name, target, proto, tps.toFixed(0)]);
      console.error(`  ${name} ${target} ${proto}: ${tps.toFixed(0)} tps`);
    };
    await add('tpcb-like (read-write)', 'primary', 'simple', primaryPort, []);
    await add('tpcb-like (read-write)', 'pgpool', 'simple', pool, []);
    await add('tpcb-like (read-write)', 'primary', 'extended', primaryPort, []);
    await add('tpcb-like (read-write)', 'pgpool', 'extended', pool, []);
    // Named statements, parsed once per session (node-postgres does this for a query with a name).
    await add('tpcb-like (read-write)', 'primary', 'prepared', primaryPort, []);
    await add('tpcb-like (read-write)', 'pgpool', 'prepared', pool, []);
    await add('select-only, load balancing on', 'pgpool', 'simple', pool, ['-f', lb]);
    await add('select-only, load balancing off', 'pgpool', 'simple', pool, ['-f', noLb]);
    console.log(`\nlab up from nothing: ${(upMs / 1000).toFixed(1)} s`);
    console.log(
      `pgbench: ${CLIENTS} clients, ${SECONDS} s per run, scale 10, synchronous quorum ANY 1 of 2, 2 cores shared by all\n`,
    );
    console.log(table(rows));
    // Through pgpool, the extended and prepared protocols against the simple one, measured in the same run.
    const viaPgpool = (proto: string) => results[`tpcb-like (read-write) pgpool ${proto}`];
    const ratios = {
      extended: viaPgpool('extended') / viaPgpool('simple'),
      prepared: viaPgpool('prepared') / viaPgpool('simple'),
    };
    console.log(
      `\nthrough pgpool, against the simple protocol: extended ${(ratios.extended * 100).toFixed(0)}%, prepared ${(ratios.prepared * 100).toFixed(0)}%`,
    );
    console.log(
      `\nresults: ${saveResults('lab', { upMs, clients: CLIENTS, seconds: SECONDS, tps: results, pgpoolProtocolRatios: ratios })}`,
    );
  } finally {
    await lab.down({ purge: true });
  }
}
