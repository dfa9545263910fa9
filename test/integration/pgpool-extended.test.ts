/**
 * The extended query protocol through the lab's pgpool (TLS on both sides, reads balanced to the
 * standbys): what node-postgres sends for every parameterized query (Parse/Bind/Describe/Execute/
 * Sync), its pipeline mode, and, on the raw protocol, what clients may send: several statements
 * before one Sync with an error in the middle (the rest is skipped until the Sync), named statements
 * with Describe and Close, a Flush instead of a Sync (rows in pages), COPY, a statement prepared on
 * a standby and executed in a writing transaction. Then a failover of the primary under
 * parameterized writers and readers. pgwarden's pgpool patch 0004 (fewer writes, no Sync to idle
 * nodes) must change none of these answers; the test passes on the stock and on the patched build.
 */
import { Client } from 'pg';
import { executions, finishedFailover } from '../../infra/local/drill';
import { waitFor } from '../../infra/local/proc';
import { freshLab } from './support/lab';

jest.setTimeout(240_000);

const lab = freshLab(27600);

/** A protocol message as node-postgres's parser gives it (name, plus the fields of its kind). */
interface Msg {
  name: string;
  status?: string;
  text?: string;
  fields?: (string | null)[];
  message?: string;
  code?: string;
  [k: string]: unknown;
}

/** node-postgres's connection after Client.connect (TLS and SCRAM done), driven message by message. */
interface RawConnection {
  parse(q: { name?: string; text: string; types?: number[] }): void;
  bind(b: { portal?: string; statement?: string; values?: (string | null)[] }): void;
  describe(d: { type: 'S' | 'P'; name?: string }): void;
  execute(e: { portal?: string; rows?: number }): void;
  close(c: { type: 'S' | 'P'; name?: string }): void;
  flush(): void;
  sync(): void;
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
  on(ev: 'message', fn: (m: Msg) => void): void;
  removeAllListeners(ev: string): void;
}

const MESSAGE_EVENTS = [
  'errorMessage',
  'readyForQuery',
  'notice',
  'rowDescription',
  'dataRow',
  'portalSuspended',
  'emptyQuery',
  'commandComplete',
  'parseComplete',
  'copyInResponse',
  'copyData',
  'notification',
];

class Raw {
  private queue: Msg[] = [];
  private wake?: () => void;
  constructor(
    readonly client: Client,
    readonly con: RawConnection,
  ) {
    for (const ev of MESSAGE_EVENTS) con.removeAllListeners(ev);
    con.on('message', (m) => {
      this.queue.push(m);
      this.wake?.();
    });
  }

  /** A session through pgpool, or straight to a node (the app's role either way). */
  static async open(target = 'pgpool'): Promise<Raw> {
    const url = target === 'pgpool' ? lab.connectionString('pgpool') : lab.connectionString(target, 'app', 'app');
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    client.on('error', () => undefined);
    await client.connect();
    return new Raw(client, (client as unknown as { connection: RawConnection }).connection);
  }

  /** The messages that arrive until (and with) the first one named `last`; fails after `ms`. */
  async until(last: string, ms = 10_000): Promise<Msg[]> {
    const deadline = Date.now() + ms;
    const got: Msg[] = [];
    for (;;) {
      while (this.queue.length) {
        const m = this.queue.shift()!;
        got.push(m);
        if (m.name === last) return got;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${last} within ${ms} ms; got ${got.map((m) => m.name).join(',')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** Nothing arrives for `ms` (what a client that sent neither Sync nor Flush may expect). */
  async quiet(ms: number): Promise<Msg[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.queue.splice(0);
  }

  /** Parse (unnamed), Bind, Describe portal, Execute: one statement of a pipeline, no Sync. */
  stmt(text: string, values: (string | null)[] = []): void {
    this.con.parse({ text });
    this.con.bind({ values });
    this.con.describe({ type: 'P' });
    this.con.execute({});
  }

  async end(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

const names = (ms: Msg[]) => ms.map((m) => m.name);
const rows = (ms: Msg[]) => ms.filter((m) => m.name === 'dataRow').map((m) => m.fields);
/** What a client sees of an answer: each message's kind, rows, command tags, error codes, states. */
const transcript = (ms: Msg[]) =>
  ms.map((m) =>
    [
      m.name,
      m.name === 'rowDescription'
        ? (m.fields as unknown as { name: string }[]).map((f) => f.name).join('|')
        : m.fields?.join('|'),
      m.text,
      m.code,
      m.message,
      m.status,
    ]
      .filter((x) => x !== undefined)
      .join(' '),
  );

async function appClient(opts: { pipeline?: boolean } = {}): Promise<Client> {
  const c = new Client({
    connectionString: lab.connectionString('pgpool'),
    connectionTimeoutMillis: 5000,
    ...opts,
  } as ConstructorParameters<typeof Client>[0]);
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** The node that answered: its cluster_name (pgw-<node>); a stable function, so pgpool may balance it. */
const WHERE = "current_setting('cluster_name')";

/** pgpool sends a statement that starts with this comment to the primary (as app/store.ts does). */
const ON_PRIMARY = '/*NO LOAD BALANCE*/';
let primaryName = '';
const standbyNames = () =>
  lab
    .config()
    .nodes.map((n) => `pgw-${n.name}`)
    .filter((n) => n !== primaryName);

beforeAll(async () => {
  await lab.up();
  primaryName = `pgw-${lab.readTopology().primary}`;
  const c = await appClient();
  try {
    await c.query('CREATE TABLE pgx (id bigserial PRIMARY KEY, v text NOT NULL, n int)');
  } finally {
    await c.end();
  }
}, 180_000);
afterAll(() => lab.down({ purge: true }), 60_000);

describe('the extended query protocol through pgpool', () => {
  test('node-postgres parameterized queries: writes, reads, transactions, NULLs, many in a row', async () => {
    const c = await appClient();
    try {
      for (let i = 0; i < 200; i++) {
        const r = await c.query('INSERT INTO pgx (v, n) VALUES ($1, $2) RETURNING id, v, n', [`p${i}`, i]);
        expect(r.rows[0]).toMatchObject({ v: `p${i}`, n: i });
      }
      // A read after committed writes is load-balanced to a standby, which may not have replayed them yet
      // (quorum commit waits for one standby's flush, not for any replay): read them on the primary.
      const n = await c.query(`${ON_PRIMARY} SELECT count(*)::int AS n, sum(n)::int AS s FROM pgx WHERE v LIKE $1`, [
        'p%',
      ]);
      expect(n.rows[0]).toEqual({ n: 200, s: (199 * 200) / 2 });
      expect((await c.query('SELECT $1::text IS NULL AS isnull', [null])).rows[0]).toEqual({ isnull: true });

      await c.query('BEGIN');
      await c.query('INSERT INTO pgx (v) VALUES ($1)', ['in-tx']);
      expect((await c.query('SELECT count(*)::int AS n FROM pgx WHERE v = $1', ['in-tx'])).rows[0].n).toBe(1);
      await c.query('ROLLBACK');
      expect((await c.query('SELECT count(*)::int AS n FROM pgx WHERE v = $1', ['in-tx'])).rows[0].n).toBe(0);

      await c.query('BEGIN');
      await c.query('UPDATE pgx SET n = n + $1 WHERE v = $2', [1000, 'p7']);
      await c.query('COMMIT');
      expect((await c.query(`${ON_PRIMARY} SELECT n, ${WHERE} AS node FROM pgx WHERE v = $1`, ['p7'])).rows[0]).toEqual(
        {
          n: 1007,
          node: primaryName,
        },
      );
      // Simple and extended protocol interleaved on one session.
      expect((await c.query("SELECT 'simple' AS s")).rows[0].s).toBe('simple');
      expect((await c.query('SELECT $1::int * 2 AS d', [21])).rows[0].d).toBe(42);
    } finally {
      await c.end();
    }
  });

  test('named statements (node-postgres `name`): parsed once, executed many times, also inside a transaction', async () => {
    const c = await appClient();
    try {
      for (let i = 0; i < 20; i++) {
        const r = await c.query({ name: 'pgx-add', text: 'SELECT $1::int + $2::int AS s', values: [i, 1] });
        expect(r.rows[0].s).toBe(i + 1);
      }
      await c.query('BEGIN');
      const r = await c.query({ name: 'pgx-add', text: 'SELECT $1::int + $2::int AS s', values: [40, 2] });
      expect(r.rows[0].s).toBe(42);
      await c.query('COMMIT');
    } finally {
      await c.end();
    }
  });

  test('a statement prepared on a standby runs on the primary in a writing transaction (sees its own write)', async () => {
    const c = await appClient();
    try {
      const count = { name: 'pgx-count', text: 'SELECT count(*)::int AS n FROM pgx WHERE v = $1', values: ['own'] };
      expect((await c.query(count)).rows[0].n).toBe(0); // parsed outside a transaction: load-balanced
      await c.query('BEGIN');
      await c.query('INSERT INTO pgx (v) VALUES ($1)', ['own']);
      expect((await c.query(count)).rows[0].n).toBe(1);
      expect((await c.query(`SELECT ${WHERE} AS node`)).rows[0].node).toBe(primaryName);
      await c.query('COMMIT');
    } finally {
      await c.end();
    }
  });

  test('reads are load-balanced to the standbys over the extended protocol; a transaction reads its writes on the primary', async () => {
    const c = await appClient();
    try {
      const seen = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const r = await c.query(`SELECT ${WHERE} AS node, $1::int AS i`, [i]);
        expect(r.rows[0].i).toBe(i);
        seen.add(r.rows[0].node);
      }
      // database_redirect_preference_list '.*:standby': the session's load-balance node is a standby.
      expect([...seen]).toHaveLength(1);
      expect(standbyNames()).toContain([...seen][0]);

      await c.query('BEGIN');
      // Before the transaction writes, its reads may stay on the load-balance node...
      expect(standbyNames()).toContain((await c.query(`SELECT ${WHERE} AS node, $1::int`, [1])).rows[0].node);
      await c.query('INSERT INTO pgx (v) VALUES ($1)', ['lb-tx']);
      // ...after, they go to the primary (disable_load_balance_on_write = 'transaction').
      const after = await c.query(`SELECT ${WHERE} AS node, count(*)::int AS n FROM pgx WHERE v = $1`, ['lb-tx']);
      expect(after.rows[0]).toEqual({ node: primaryName, n: 1 });
      await c.query('COMMIT');
      expect(standbyNames()).toContain((await c.query(`SELECT ${WHERE} AS node, $1::int`, [2])).rows[0].node);
    } finally {
      await c.end();
    }
  });

  test('node-postgres pipeline mode: 60 queries in flight, one failing in the middle, the others answered in order', async () => {
    const c = await appClient({ pipeline: true });
    try {
      const qs = Array.from({ length: 60 }, (_, i) =>
        i === 30
          ? c.query('SELECT 1 / $1::int AS x', [0]).then(
              () => 'no error',
              (e: Error) => e.message,
            )
          : i % 3 === 0
            ? c.query('INSERT INTO pgx (v, n) VALUES ($1, $2) RETURNING n', ['pipe', i]).then((r) => r.rows[0].n)
            : c.query(`SELECT $1::int AS i, ${WHERE} AS node`, [i]).then((r) => r.rows[0].i),
      );
      const out = await Promise.all(qs);
      out.forEach((v, i) => expect(v).toEqual(i === 30 ? 'division by zero' : i));
      // 20 multiples of 3 below 60, less the failing one (30)
      expect((await c.query(`${ON_PRIMARY} SELECT count(*)::int AS n FROM pgx WHERE v = $1`, ['pipe'])).rows[0].n).toBe(
        19,
      );
    } finally {
      await c.end();
    }
  });

  test('several statements before one Sync, an error in the middle: pgpool answers exactly as PostgreSQL does, the rest is skipped until the Sync', async () => {
    // The same pipelines straight to the primary and through pgpool; each writes rows of its own tag.
    // Reads outside a transaction go to a standby through pgpool: the pipelines read no data that
    // replication may not have brought there yet, and a read never follows an error or a write it
    // would have to see in the same implicit transaction (pgpool splits those between nodes).
    const pipelines = async (raw: Raw, tag: string): Promise<string[][]> => {
      const out: string[][] = [];
      const run = async (...stmts: [string, (string | null)[]?][]) => {
        for (const [text, values] of stmts) raw.stmt(text, values ?? []);
        raw.con.sync();
        out.push(transcript(await raw.until('readyForQuery')));
      };
      const ins = 'INSERT INTO pgx (v, n) VALUES ($1, $2) RETURNING n';
      const mine = 'SELECT n FROM pgx WHERE v = $1 ORDER BY n';
      // An error at Bind (1 / 0 of a parameter, folded while planning) and one at Execute (NOT NULL).
      await run(
        ['SELECT $1::int AS a', ['1']],
        ['INSERT INTO pgx (v, n) VALUES ($1, 1 / $2::int)', [tag, '0']],
        [ins, [tag, '1']],
      );
      await run([ins, [tag, '2']], [ins, [null, '3']], [ins, [tag, '4']], ['SELECT 1']);
      // In a transaction: failed until ROLLBACK, and nothing of it stays.
      await run(['BEGIN'], [ins, [tag, '5']], [ins, [null, '6']], [ins, [tag, '7']]);
      await run(['SELECT 1']);
      await run(['ROLLBACK']);
      // Committed transactions in one pipeline each; the reads after a write go to the primary.
      await run(['BEGIN'], [ins, [tag, '8']], [mine, [tag]], ['COMMIT']);
      await run(['BEGIN'], ['SELECT $1::int AS b', ['2']], [ins, [tag, '9']], [mine, [tag]], ['COMMIT']);
      // Reads and a write in one pipeline, outside a transaction.
      await run(['SELECT $1::int AS c', ['3']], [ins, [tag, '10']], ['SELECT $1::text AS d', ['x']]);
      return out;
    };
    const direct = await Raw.open(lab.readTopology().primary);
    const pooled = await Raw.open();
    try {
      const expected = await pipelines(direct, 'pipe-direct');
      const got = await pipelines(pooled, 'pipe-pgpool');
      expect(got.map((t) => t.map((l) => l.replace('pipe-pgpool', 'pipe-direct')))).toEqual(expected);
      // What PostgreSQL answered, in short: each error ends its pipeline, the Sync answers.
      expect(expected[0]).toEqual([
        'parseComplete',
        'bindComplete',
        'rowDescription a',
        'dataRow 1',
        'commandComplete SELECT 1',
        'parseComplete',
        'error 22012 division by zero',
        'readyForQuery I',
      ]);
      expect(expected[1].filter((l) => l.startsWith('error'))).toHaveLength(1);
      expect(expected[2].at(-1)).toBe('readyForQuery E');
      expect(expected[3]).toContain(
        'error 25P02 current transaction is aborted, commands ignored until end of transaction block',
      );
      expect(expected[5].filter((l) => l.startsWith('dataRow'))).toEqual(['dataRow 8', 'dataRow 8']);
      expect(expected[6].filter((l) => l.startsWith('dataRow'))).toEqual([
        'dataRow 2',
        'dataRow 9',
        'dataRow 8',
        'dataRow 9',
      ]);
      expect(expected[7].filter((l) => l.startsWith('dataRow'))).toEqual(['dataRow 3', 'dataRow 10', 'dataRow x']);
    } finally {
      await direct.end();
      await pooled.end();
    }
  });

  test('named statement: Parse, Describe statement, Bind/Execute several times, Close, Parse again', async () => {
    const raw = await Raw.open();
    try {
      raw.con.parse({ name: 'twice', text: 'SELECT $1::int * 2 AS d, $2::text AS t' });
      raw.con.describe({ type: 'S', name: 'twice' });
      raw.con.sync();
      const described = await raw.until('readyForQuery');
      expect(names(described)).toEqual(['parseComplete', 'parameterDescription', 'rowDescription', 'readyForQuery']);

      for (const n of [1, 2, 3]) {
        raw.con.bind({ statement: 'twice', values: [String(n), `t${n}`] });
        raw.con.execute({});
        raw.con.sync();
        const got = await raw.until('readyForQuery');
        expect(names(got)).toEqual(['bindComplete', 'dataRow', 'commandComplete', 'readyForQuery']);
        expect(rows(got)).toEqual([[String(n * 2), `t${n}`]]);
      }
      // Two executions of the statement before one Sync.
      for (const n of [4, 5]) {
        raw.con.bind({ statement: 'twice', values: [String(n), null] });
        raw.con.execute({});
      }
      raw.con.sync();
      expect(rows(await raw.until('readyForQuery'))).toEqual([
        ['8', null],
        ['10', null],
      ]);

      raw.con.close({ type: 'S', name: 'twice' });
      raw.con.sync();
      expect(names(await raw.until('readyForQuery'))).toEqual(['closeComplete', 'readyForQuery']);
      // Closed on the server too: the name can be parsed again (else "prepared statement exists").
      raw.con.parse({ name: 'twice', text: 'SELECT $1::int * 3' });
      raw.con.bind({ statement: 'twice', values: ['14'] });
      raw.con.execute({});
      raw.con.sync();
      const again = await raw.until('readyForQuery');
      expect(names(again)).not.toContain('error');
      expect(rows(again)).toEqual([['42']]);
    } finally {
      await raw.end();
    }
  });

  test('Flush instead of Sync: rows in pages of 2 (portal suspended), each page answered before any Sync', async () => {
    const raw = await Raw.open();
    try {
      raw.con.query('BEGIN'); // a portal lives until the end of its transaction
      await raw.until('readyForQuery');
      raw.con.parse({ text: 'SELECT g FROM generate_series(1, $1::int) g' });
      raw.con.bind({ portal: 'pages', values: ['5'] });
      raw.con.describe({ type: 'P', name: 'pages' });
      raw.con.execute({ portal: 'pages', rows: 2 });
      raw.con.flush();
      const first = await raw.until('portalSuspended');
      expect(names(first)).toEqual([
        'parseComplete',
        'bindComplete',
        'rowDescription',
        'dataRow',
        'dataRow',
        'portalSuspended',
      ]);
      raw.con.execute({ portal: 'pages', rows: 2 });
      raw.con.flush();
      expect(rows(await raw.until('portalSuspended'))).toEqual([['3'], ['4']]);
      raw.con.execute({ portal: 'pages', rows: 2 });
      raw.con.sync();
      const last = await raw.until('readyForQuery');
      expect(rows(last)).toEqual([['5']]);
      expect(last.find((m) => m.name === 'commandComplete')?.text).toBe('SELECT 1');
      expect(last.at(-1)?.status).toBe('T');
      raw.con.query('COMMIT');
      expect((await raw.until('readyForQuery')).at(-1)?.status).toBe('I');

      // Statements left without Sync or Flush for a while: everything arrives once the Sync comes.
      raw.stmt('SELECT $1::int', ['7']);
      const early = await raw.quiet(300);
      raw.con.sync();
      expect(rows([...early, ...(await raw.until('readyForQuery'))])).toEqual([['7']]);
    } finally {
      await raw.end();
    }
  });

  test('COPY FROM STDIN and TO STDOUT (simple query, as pg-copy-streams sends them) in an extended-protocol session', async () => {
    // COPY through the extended protocol hangs in pgpool-II 4.6.1 (streaming replication mode), with
    // or without pgwarden's patches: pgpool never answers the Sync. Clients send COPY as a simple query.
    const raw = await Raw.open();
    try {
      raw.stmt('SELECT $1::int', ['1']);
      raw.con.sync();
      await raw.until('readyForQuery');
      raw.con.query('COPY pgx (v, n) FROM STDIN');
      await raw.until('copyInResponse');
      raw.con.sendCopyFromChunk(Buffer.from('copy-a\t1\ncopy-b\t2\n'));
      raw.con.sendCopyFromChunk(Buffer.from('copy-c\t3\n'));
      raw.con.endCopyFrom();
      const done = await raw.until('readyForQuery');
      expect(done.find((m) => m.name === 'commandComplete')?.text).toBe('COPY 3');

      raw.con.query("BEGIN; COPY (SELECT v, n FROM pgx WHERE v LIKE 'copy-%' ORDER BY v) TO STDOUT; COMMIT");
      const out = await raw.until('readyForQuery');
      const data = out
        .filter((m) => m.name === 'copyData')
        .map((m) => (m.chunk as Buffer).toString())
        .join('');
      expect(data).toBe('copy-a\t1\ncopy-b\t2\ncopy-c\t3\n');

      raw.con.parse({ text: 'SELECT count(*) FROM pgx WHERE v LIKE $1' });
      raw.con.bind({ values: ['copy-%'] });
      raw.con.execute({});
      raw.con.parse({ text: 'DELETE FROM pgx WHERE v LIKE $1' });
      raw.con.bind({ values: ['copy-%'] });
      raw.con.execute({});
      raw.con.sync();
      const after = await raw.until('readyForQuery');
      expect(after.find((m) => m.name === 'commandComplete' && m.text?.startsWith('DELETE'))?.text).toBe('DELETE 3');
    } finally {
      await raw.end();
    }
  });

  test('SIGKILL of the primary under parameterized writers and balanced readers: no session hangs, writes resume, every acknowledged write is there', async () => {
    const oldPrimary = lab.readTopology().primary;
    const known = new Set((await executions(lab)).map((e) => e.name));
    const acknowledged: string[] = [];
    const failures: string[] = [];
    let reads = 0;
    let running = true;
    const PATIENCE_MS = 15_000; // a statement that takes longer than this hung
    const withPatience = <T>(p: Promise<T>) =>
      Promise.race([
        p,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('hung')), PATIENCE_MS).unref()),
      ]);
    const worker = async (id: number, kind: 'write' | 'read') => {
      let c: Client | undefined;
      for (let i = 0; running; i++) {
        try {
          c ??= await withPatience(appClient());
          if (kind === 'write') {
            const v = `fo-${id}-${i}`;
            await withPatience(c.query('INSERT INTO pgx (v, n) VALUES ($1, $2)', [v, i]));
            acknowledged.push(v);
          } else {
            await withPatience(c.query(`SELECT ${WHERE} AS node, $1::int AS i`, [i]));
            reads++;
          }
        } catch (e) {
          failures.push((e as Error).message);
          if ((e as Error).message === 'hung') throw e;
          await c?.end().catch(() => undefined);
          c = undefined;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      await c?.end().catch(() => undefined);
    };
    const tasks = [0, 1, 2].map((i) => worker(i, 'write')).concat([3, 4].map((i) => worker(i, 'read')));
    try {
      await waitFor(
        'writes to flow',
        () => {
          if (acknowledged.length > 30) return true;
          throw new Error(`${acknowledged.length} writes, failures: ${failures.slice(-3).join('; ')}`);
        },
        20_000,
      );
      lab.kill(oldPrimary);
      const exec = await finishedFailover(lab, known);
      expect(exec.output?.record?.outcome).toBe('failed-over');
      const before = acknowledged.length;
      const readsBefore = reads;
      await waitFor(
        'writes and reads after the failover',
        () => acknowledged.length > before + 30 && reads > readsBefore + 30,
        30_000,
      );
    } finally {
      running = false;
      await Promise.all(tasks);
    }
    expect(failures).not.toContain('hung');
    primaryName = `pgw-${lab.readTopology().primary}`;
    expect(primaryName).not.toBe(`pgw-${oldPrimary}`);
    const c = await appClient();
    try {
      const present = new Set(
        (await c.query<{ v: string }>(`${ON_PRIMARY} SELECT v FROM pgx WHERE v LIKE 'fo-%'`)).rows.map((r) => r.v),
      );
      expect(acknowledged.filter((v) => !present.has(v))).toEqual([]);
    } finally {
      await c.end();
    }
  });
});
