// PL/Python functions everywhere PostgreSQL can call a function: select list, WHERE, ORDER BY, views,
// materialized views (refreshed by a plpython3u procedure), DEFAULT, CHECK, generated columns, expression
// indexes, PL/pgSQL and SQL functions. Each check asserts table contents or query results.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'
import { type Client, connect, failure, fn, value } from './util.js'

let srv: TestServer
let c: Client
beforeAll(async () => {
  srv = await startServer()
  c = await connect(srv)
  await c.query(
    `CREATE FUNCTION py_sq(x int) RETURNS int IMMUTABLE LANGUAGE plpython3u AS $$ return x * x $$`,
  )
  await c.query(
    `CREATE FUNCTION py_lower(s text) RETURNS text IMMUTABLE LANGUAGE plpython3u AS $$ return s.lower() $$`,
  )
  await c.query(
    `CREATE FUNCTION py_even(x int) RETURNS bool IMMUTABLE LANGUAGE plpython3u AS $$ return x % 2 == 0 $$`,
  )
  await c.query('CREATE TABLE nums AS SELECT i FROM generate_series(1, 10) i')
})
afterAll(async () => {
  await c?.end()
  await srv?.stop()
})

describe('function positions', () => {
  it('select list, WHERE and ORDER BY', async () => {
    const r = await c.query(
      'SELECT i, py_sq(i) AS sq FROM nums WHERE py_even(i) ORDER BY py_sq(i) DESC LIMIT 3',
    )
    expect(r.rows).toEqual([
      { i: 10, sq: 100 },
      { i: 8, sq: 64 },
      { i: 6, sq: 36 },
    ])
  })

  it('views', async () => {
    await c.query('CREATE VIEW squares AS SELECT i, py_sq(i) AS sq FROM nums')
    expect(await value(c, 'SELECT sum(sq)::int FROM squares WHERE i <= 3')).toBe(14)
  })

  it('a materialized view refreshed by a plpython3u procedure', async () => {
    await c.query('CREATE TABLE readings (v int)')
    await c.query('INSERT INTO readings VALUES (1), (2)')
    await c.query('CREATE MATERIALIZED VIEW reading_sq AS SELECT v, py_sq(v) AS sq FROM readings')
    expect(await value(c, 'SELECT sum(sq)::int FROM reading_sq')).toBe(5)
    await c.query('INSERT INTO readings VALUES (3)')
    expect(await value(c, 'SELECT sum(sq)::int FROM reading_sq')).toBe(5) // not refreshed yet
    await c.query(`CREATE PROCEDURE refresh_readings() LANGUAGE plpython3u AS $$
plpy.execute("REFRESH MATERIALIZED VIEW reading_sq")
$$`)
    await c.query('CALL refresh_readings()')
    expect((await c.query('SELECT v, sq FROM reading_sq ORDER BY v')).rows).toEqual([
      { v: 1, sq: 1 },
      { v: 2, sq: 4 },
      { v: 3, sq: 9 },
    ])
    await c.query('REFRESH MATERIALIZED VIEW reading_sq')
    expect(await value(c, 'SELECT count(*)::int FROM reading_sq')).toBe(3)
  })

  it('DEFAULT, CHECK and generated columns', async () => {
    await fn(c, 'py_label() RETURNS text', "SD['n'] = SD.get('n', 0) + 1\nreturn 'item-%d' % SD['n']")
    await c.query(`CREATE TABLE items (
      label text DEFAULT py_label(),
      qty int CHECK (py_even(qty)),
      qty_sq int GENERATED ALWAYS AS (py_sq(qty)) STORED)`)
    await c.query('INSERT INTO items (qty) VALUES (2), (4)')
    expect((await c.query('SELECT label, qty, qty_sq FROM items ORDER BY qty')).rows).toEqual([
      { label: 'item-1', qty: 2, qty_sq: 4 },
      { label: 'item-2', qty: 4, qty_sq: 16 },
    ])
    const e = await failure(c, 'INSERT INTO items (qty) VALUES (3)')
    expect(e.code).toBe('23514')
    expect(e.message).toBe('new row for relation "items" violates check constraint "items_qty_check"')
    await c.query('UPDATE items SET qty = 6 WHERE qty = 4')
    expect(await value(c, 'SELECT qty_sq FROM items WHERE qty = 6')).toBe(36)
  })

  it('expression indexes are built with the function and used by queries', async () => {
    await c.query('CREATE TABLE people (name text)')
    await c.query(`INSERT INTO people SELECT 'Name' || i FROM generate_series(1, 200) i`)
    await c.query('CREATE INDEX people_lower ON people (py_lower(name))')
    await c.query('ANALYZE people')
    await c.query('SET enable_seqscan = off')
    try {
      const plan = (await c.query(`EXPLAIN SELECT name FROM people WHERE py_lower(name) = 'name42'`)).rows
        .map((r) => r['QUERY PLAN'])
        .join('\n')
      expect(plan).toMatch(/Index (Only )?Scan|Bitmap Index Scan/)
      expect(plan).toContain('people_lower')
      expect((await c.query(`SELECT name FROM people WHERE py_lower(name) = 'name42'`)).rows).toEqual([
        { name: 'Name42' },
      ])
    } finally {
      await c.query('RESET enable_seqscan')
    }
    await c.query(`INSERT INTO people VALUES ('MiXeD')`)
    expect(await value(c, `SELECT count(*)::int FROM people WHERE py_lower(name) = 'mixed'`)).toBe(1)
  })

  it('called from PL/pgSQL and from SQL functions (inlined or not)', async () => {
    await c.query(`CREATE FUNCTION pg_wrap(x int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE r int;
BEGIN
  r := py_sq(x) + 1;
  RETURN r;
END $$`)
    await c.query('CREATE FUNCTION sql_wrap(x int) RETURNS int LANGUAGE sql AS $$ SELECT py_sq(x) + 2 $$')
    await c.query(
      'CREATE FUNCTION sql_wrap_strict(x int) RETURNS int LANGUAGE sql STRICT SECURITY DEFINER AS $$ SELECT py_sq(x) + 3 $$',
    )
    expect((await c.query('SELECT pg_wrap(3) a, sql_wrap(3) b, sql_wrap_strict(3) c')).rows).toEqual([
      { a: 10, b: 11, c: 12 },
    ])
    expect(await value(c, 'SELECT sum(pg_wrap(i))::int FROM nums')).toBe(395)
  })

  it('in joins, aggregates, CASE and LATERAL set-returning calls', async () => {
    await fn(c, 'py_range(n int) RETURNS SETOF int', 'return range(n)')
    const r =
      await c.query(`SELECT i, count(*)::int AS n, sum(CASE WHEN py_even(r) THEN 1 ELSE 0 END)::int AS ev
      FROM nums, LATERAL py_range(i) r WHERE i <= 4 GROUP BY i ORDER BY i`)
    expect(r.rows).toEqual([
      { i: 1, n: 1, ev: 1 },
      { i: 2, n: 2, ev: 1 },
      { i: 3, n: 3, ev: 2 },
      { i: 4, n: 4, ev: 2 },
    ])
  })
})
