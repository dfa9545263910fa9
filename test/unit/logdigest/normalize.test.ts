import { normalizeQuery } from '../../../functions/logdigest/normalize';

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
