import { normalizeQuery, normalizeUncached, shapeHash } from '../../../functions/logdigest/normalize';

describe('normalizeQuery', () => {
  it.each([
    ["INSERT INTO t VALUES (1,'x'),(2,'y')", 'insert into t values (?)', 'insert'],
    ['insert into t values ( $1 , $2 )', 'insert into t values (?)', 'insert'],
    [
      'SELECT id,\n  v FROM t WHERE id = 1 AND x IN (1, 2, 3) -- comment',
      'select id, v from t where id = ? and x in (?)',
      'select',
    ],
    [
      'UPDATE pgbench_accounts SET abalance = abalance + -2955 WHERE aid = 80553;',
      'update pgbench_accounts set abalance = abalance + - ? where aid = ?',
      'update',
    ],
    ['WITH x AS (SELECT 1) DELETE FROM t USING x', 'with x as (select ?) delete from t using x', 'delete'],
    [
      "select E'a\\'b', 'it''s', $$x$$, $f$y$f$, 1.5e-3, \"Foo\".bar::int[1] /* c */",
      'select ?, ?, ?, ?, ?, "Foo".bar::int[?]',
      'select',
    ],
    ['BEGIN', 'begin', 'tcl'],
    ['CREATE TABLE t(id int)', 'create table t (id int)', 'ddl'],
    ['COPY t FROM STDIN', 'copy t from stdin', 'copy'],
    ['vacuum t', 'vacuum t', 'other'],
  ])('%j', (sql, query, type) => {
    expect(normalizeQuery(sql)).toEqual({ query, type });
  });

  it('gives the same form whatever the spacing and literals', () => {
    expect(normalizeQuery('select * from t where a=1 and b>=-2').query).toBe(
      normalizeQuery('SELECT *\n\tFROM t WHERE a = 42 AND b >= -7').query,
    );
  });

  it('bounds the normalized length', () => {
    const q = normalizeQuery('select ' + Array.from({ length: 5000 }, (_, i) => `c${i}`).join(', ')).query;
    expect(q.length).toBeLessThan(2100);
    expect(q.endsWith(' ...')).toBe(true);
  });
});

describe('normalizeQuery cache (shape hash)', () => {
  // Fragments that stress every branch of the scan: case, quoting, operators split or not, casts,
  // literals of each kind, comments, parameters, dollar quotes, lists.
  const FRAGMENTS = [
    'select',
    'SELECT',
    'Select',
    'from',
    't',
    'T1',
    't1',
    '"Foo"',
    '"foo"',
    '"a""b"',
    'é',
    'É',
    '>=',
    '>',
    '=',
    '<>',
    '-',
    '+',
    '-1',
    '+2',
    '*',
    '/',
    '||',
    '::',
    ':',
    'int',
    '(',
    ')',
    ',',
    ';',
    '[',
    ']',
    '.',
    '1',
    '1.5',
    '.5',
    '1e5',
    "'x'",
    "'it''s'",
    "E'a\\'b'",
    "B'01'",
    "X'ff'",
    "N'n'",
    '$1',
    '$2',
    '$$body$$',
    '$tag$x$tag$',
    '$',
    // fragments that leave a token open: at the end of a text, the scan reads no further than its end
    "'open",
    '"open',
    "E'\\",
    '/* open',
    '$tag$open',
    '1e',
    '-- comment at the end',
    '-- comment\n',
    '/* c */',
    'in (1, 2, 3)',
    'in (4)',
    'values (1, 2), (3, 4)',
    'e',
    "e'x'",
  ];
  const SEPS = ['', ' ', '  ', '\n', '\t'];

  it('returns for every text what normalizing it afresh returns (20,000 random texts, one cache)', () => {
    let seed = 42;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const wrong: string[] = [];
    for (let k = 0; k < 20000; k++) {
      let sql = '';
      for (let t = 0, len = 1 + rnd(12); t < len; t++) sql += FRAGMENTS[rnd(FRAGMENTS.length)] + SEPS[rnd(SEPS.length)];
      const cached = normalizeQuery(sql);
      const fresh = normalizeUncached(sql);
      if (cached.query !== fresh.query || cached.type !== fresh.type) wrong.push(JSON.stringify(sql));
    }
    expect(wrong.slice(0, 5)).toEqual([]);
  });

  it('gives texts that differ only in literals, spacing or keyword case one shape, and others another', () => {
    expect(shapeHash("SELECT * FROM t WHERE a = 'x' AND b = 1")).toBe(
      shapeHash("select *  from t where a='yy' and b=22"),
    );
    expect(shapeHash('select "Foo" from t')).not.toBe(shapeHash('select "foo" from t'));
    expect(shapeHash('select a>=b')).not.toBe(shapeHash('select a> =b'));
    expect(shapeHash('select a::int')).not.toBe(shapeHash('select a: :int'));
    expect(shapeHash('select ab')).not.toBe(shapeHash('select a b'));
  });

  it('reads a text longer than the array it copies texts into as it reads a short one', () => {
    // ~140,000 characters: more than the array shapeHash keeps, so one of its own
    const long = 'select ' + Array.from({ length: 20000 }, (_, i) => `c${i}`).join(', ') + ' from t';
    expect(shapeHash(long + ' where a = 1')).toBe(shapeHash(long + " where a = 'x'"));
    expect(shapeHash(long)).not.toBe(shapeHash(long.replace('c19999', 'd19999')));
    expect(shapeHash('select a = 1')).toBe(shapeHash('select a = 22'));
    expect(normalizeQuery(long + ' where a = 1')).toEqual(normalizeUncached(long + ' where a = 1'));
  });
});
