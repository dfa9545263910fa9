/**
 * One throwaway PostgreSQL 15 instance for the log-digest tests and bench: initdb into a temp dir,
 * postgresql.conf = defaults + infra/node/postgresql.logging.conf (verbatim) + per-instance values.
 * Runs as the postgres OS user when we are root (PostgreSQL refuses root). Loopback only.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';

const run = promisify(execFile);
const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
export const LOGGING_CONF = path.resolve(__dirname, '../../../infra/node/postgresql.logging.conf');

export interface ScratchPgOptions {
  port: number;
  /** Extra postgresql.conf lines appended after the logging configuration (they win). */
  extraConf?: string[];
}

export class ScratchPg {
  readonly dir: string;
  readonly dataDir: string;
  readonly port: number;
  private readonly extraConf: string[];

  private constructor(dir: string, opts: ScratchPgOptions) {
    this.dir = dir;
    this.dataDir = path.join(dir, 'data');
    this.port = opts.port;
    this.extraConf = opts.extraConf ?? [];
  }

  static async start(opts: ScratchPgOptions): Promise<ScratchPg> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgwarden-scratch-pg-'));
    const pg = new ScratchPg(dir, opts);
    try {
      await pg.init();
      await pg.pgCtl(['start', '-w', '-t', '60', '-l', path.join(dir, 'startup.log')]);
    } catch (e) {
      await pg.stop().catch(() => undefined);
      throw e;
    }
    return pg;
  }

  get logDir(): string {
    return path.join(this.dataDir, 'log');
  }

  connectionConfig(application = 'pgwarden-test') {
    return {
      host: '127.0.0.1',
      port: this.port,
      user: 'postgres',
      database: 'postgres',
      application_name: application,
    };
  }

  async client(application?: string): Promise<Client> {
    const c = new Client(this.connectionConfig(application));
    await c.connect();
    return c;
  }

  /** The log files the collector has written, by destination, oldest first. */
  async logFiles(kind: 'stderr' | 'jsonlog'): Promise<string[]> {
    const ext = kind === 'stderr' ? '.log' : '.json';
    const names = (await fs.readdir(this.logDir)).filter((n) => n.endsWith(ext));
    const withTimes = await Promise.all(
      names.map(async (n) => ({ p: path.join(this.logDir, n), t: (await fs.stat(path.join(this.logDir, n))).mtimeMs })),
    );
    return withTimes.sort((a, b) => a.t - b.t).map((x) => x.p);
  }

  /** Polls the log until `re` matches `count` times, up to a deadline (for events only the log reveals). */
  async waitForLog(
    re: RegExp,
    opts: { count?: number; kind?: 'stderr' | 'jsonlog'; timeoutMs?: number } = {},
  ): Promise<void> {
    const { count = 1, kind = 'stderr', timeoutMs = 30000 } = opts;
    const global = new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let seen = 0;
      for (const f of await this.logFiles(kind)) seen += (await fs.readFile(f, 'utf8')).match(global)?.length ?? 0;
      if (seen >= count) return;
      if (Date.now() > deadline)
        throw new Error(`${kind} log matched ${re} ${seen} times, not ${count}, within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    try {
      await fs.access(path.join(this.dataDir, 'postmaster.pid'));
      await this.pgCtl(['stop', '-w', '-t', '60', '-m', 'fast']);
    } catch {
      // not running
    }
  }

  async destroy(): Promise<void> {
    await this.stop();
    await fs.rm(this.dir, { recursive: true, force: true });
  }

  private async init(): Promise<void> {
    await this.asPostgres(path.join(PG_BIN, 'initdb'), [
      '-D',
      this.dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '--no-sync',
      '-E',
      'UTF8',
      '--locale=C',
    ]);
    const logging = await fs.readFile(LOGGING_CONF, 'utf8');
    const conf = [
      '',
      logging,
      '# scratch instance',
      `port = ${this.port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${this.dir}'`,
      'fsync = off',
      ...this.extraConf,
      '',
    ].join('\n');
    await fs.appendFile(path.join(this.dataDir, 'postgresql.conf'), conf);
  }

  private async pgCtl(args: string[]): Promise<void> {
    await this.asPostgres(path.join(PG_BIN, 'pg_ctl'), ['-D', this.dataDir, ...args]);
  }

  private async asPostgres(cmd: string, args: string[]): Promise<void> {
    if (process.getuid?.() === 0) {
      await run('chown', ['-R', 'postgres:postgres', this.dir]);
      await run('runuser', ['-u', 'postgres', '--', cmd, ...args], { cwd: this.dir });
    } else {
      await run(cmd, args, { cwd: this.dir });
    }
  }
}
