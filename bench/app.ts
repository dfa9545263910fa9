/**
 * `npm run bench -- app`: the application tier on a lab. Read latency p50/p99 for a cache hit, a
 * cache miss and with the cache off; requests per second for writes and reads through the app with
 * and without the cache; tracing on vs off. Three app processes on one lab differ only in their
 * settings (PGWARDEN_APP_CACHE, PGWARDEN_APP_TRACING).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { spawnApp, type AppProcess } from '../infra/local/app-process';
import { Lab } from '../infra/local/lab';
import { saveResults, table } from './util';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 400);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PORT_BASE = Number(process.env.PGWARDEN_BENCH_PORT_BASE ?? 27400);

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
}

async function write(url: string, value: string): Promise<number> {
  const r = await fetch(`${url}/api/values`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ value }),
  });
  const b = (await r.json()) as { id: number };
  if (r.status !== 201) throw new Error(`write answered ${r.status}`);
  return b.id;
}

async function read(url: string, id: number): Promise<boolean> {
  const r = await fetch(`${url}/api/values/${id}`);
  const b = (await r.json()) as { cached: boolean };
  if (r.status !== 200) throw new Error(`read answered ${r.status}`);
  return b.cached;
}

/** Latency of `n` sequential calls, each after `before` (not timed). */
async function latency(n: number, call: (i: number) => Promise<unknown>, before?: (i: number) => Promise<unknown>) {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    await before?.(i);
    const t = process.hrtime.bigint();
    await call(i);
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return { p50: percentile(ms, 50), p99: percentile(ms, 99) };
}

/** Requests per second with CLIENTS concurrent clients for SECONDS. */
async function throughput(call: (i: number) => Promise<unknown>): Promise<number> {
  const until = Date.now() + SECONDS * 1000;
  let done = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      for (let i = c; Date.now() < until; i += CLIENTS) {
        await call(i);
        done++;
      }
    }),
  );
  return done / ((Date.now() - started) / 1000);
}

export async function run(_argv: string[]): Promise<void> {
  const lab = new Lab({
    dir: mkdtempSync(join(tmpdir(), 'pgw-bench-app-')),
    portBase: PORT_BASE,
    log: () => undefined,
  });
  const apps: AppProcess[] = [];
  let redis: Redis | undefined;
  try {
    await lab.up();
    redis = new Redis({ port: lab.config().redisPort, password: lab.secrets().PGW_PW_REDIS });
    const start = async (k: number, env: Record<string, string>) => {
      const a = await spawnApp(lab, { port: PORT_BASE + 24 + k, env });
      apps.push(a);
      return a.url;
    };
    const cached = await start(0, { PGWARDEN_APP_CACHE: 'on', PGWARDEN_APP_TRACING: 'off' });
    const uncached = await start(1, { PGWARDEN_APP_CACHE: 'off', PGWARDEN_APP_TRACING: 'off' });
    const traced = await start(2, { PGWARDEN_APP_CACHE: 'on', PGWARDEN_APP_TRACING: 'on' });
    const ids: number[] = [];
    for (let i = 0; i < 200; i++) ids.push(await write(cached, `bench ${i}`));
    const id = (i: number) => ids[i % ids.length];
    // Warm every process (connections, JIT) before measuring.
    for (const u of [cached, uncached, traced]) for (let i = 0; i < 200; i++) await read(u, id(i));

    const hit = await latency(SAMPLES, (i) => read(cached, id(i)));
    const miss = await latency(
      SAMPLES,
      (i) => read(cached, id(i)),
      (i) => redis!.del(`pgwarden:value:${id(i)}`),
    );
    const off = await latency(SAMPLES, (i) => read(uncached, id(i)));
    const tracedHit = await latency(SAMPLES, (i) => read(traced, id(i)));

    // Each figure is the median of ROUNDS runs, the configurations interleaved, so that the load of
    // the other processes on this machine falls on all of them alike.
    const configs: Record<string, (i: number) => Promise<unknown>> = {
      readsCache: (i) => read(cached, id(i)),
      readsNoCache: (i) => read(uncached, id(i)),
      readsTraced: (i) => read(traced, id(i)),
      writesCache: (i) => write(cached, `w ${i}`),
      writesNoCache: (i) => write(uncached, `w ${i}`),
      writesTraced: (i) => write(traced, `w ${i}`),
    };
    const runs: Record<string, number[]> = Object.fromEntries(Object.keys(configs).map((k) => [k, []]));
    for (let round = 0; round < ROUNDS; round++)
      for (const [k, call] of Object.entries(configs)) runs[k].push(await throughput(call));
    const rps = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, percentile(v, 50)])) as Record<
      keyof typeof configs,
      number
    >;
    const f = (x: number) => x.toFixed(2);
    const r = (x: number) => x.toFixed(0);
    console.log(
      `app bench (lab, ${CLIENTS} clients x ${SECONDS} s, median of ${ROUNDS} interleaved rounds per throughput figure; ${SAMPLES} sequential samples per latency figure)\n`,
    );
    console.log(
      table([
        ['read latency', 'p50 ms', 'p99 ms'],
        ['cache hit', f(hit.p50), f(hit.p99)],
        ['cache miss (PostgreSQL, then fill)', f(miss.p50), f(miss.p99)],
        ['cache off (PostgreSQL)', f(off.p50), f(off.p99)],
        ['cache hit, tracing on', f(tracedHit.p50), f(tracedHit.p99)],
      ]),
    );
    console.log();
    console.log(
      table([
        ['requests per second', 'cache on', 'cache off', 'speed-up'],
        ['reads', r(rps.readsCache), r(rps.readsNoCache), `${(rps.readsCache / rps.readsNoCache).toFixed(2)}x`],
        ['writes', r(rps.writesCache), r(rps.writesNoCache), `${(rps.writesCache / rps.writesNoCache).toFixed(2)}x`],
      ]),
    );
    console.log();
    console.log(
      table([
        ['tracing (cache on)', 'off', 'on', 'overhead'],
        [
          'reads/s',
          r(rps.readsCache),
          r(rps.readsTraced),
          `${(100 * (1 - rps.readsTraced / rps.readsCache)).toFixed(1)}%`,
        ],
        [
          'writes/s',
          r(rps.writesCache),
          r(rps.writesTraced),
          `${(100 * (1 - rps.writesTraced / rps.writesCache)).toFixed(1)}%`,
        ],
      ]),
    );
    console.log(
      `\nresults: ${saveResults('app', { seconds: SECONDS, clients: CLIENTS, samples: SAMPLES, rounds: ROUNDS, hit, miss, off, tracedHit, rps, runs })}`,
    );
  } finally {
    redis?.disconnect();
    for (const a of apps) await a.stop();
    await lab.down({ purge: true });
  }
}
