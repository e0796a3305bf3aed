import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cancelClient } from '../helpers/clients.js'
import { startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
let c: pg.Client

async function connect(): Promise<pg.Client> {
  const k = new pg.Client({ connectionString: srv.url() })
  await k.connect()
  return k
}

beforeAll(async () => {
  srv = await startServer()
  c = await connect()
  await c.query(`CREATE FUNCTION inc(i int) RETURNS int LANGUAGE plpython3u AS $$ return i + 1 $$`)
  await c.query(`CREATE FUNCTION ident(s text) RETURNS text LANGUAGE plpython3u AS $$ return s $$`)
  await c.query(`CREATE FUNCTION rep(s text, n int) RETURNS text LANGUAGE plpython3u AS $$ return s * n $$`)
  await c.query(`CREATE FUNCTION outer_rep(n int) RETURNS text LANGUAGE plpython3u AS $$
inner = plpy.execute("SELECT rep('y', %d) AS r" % (n * 2))[0]['r']
return 'x' * n + '|' + inner
$$`)
  await c.query(`CREATE FUNCTION spi_spin() RETURNS int LANGUAGE plpython3u AS $$
p = plpy.prepare("SELECT $1::int AS x", ["int"])
while True:
    plpy.execute(p, [1])
    plpy.execute("SELECT 1 AS x")
$$`)
  await c.query(`CREATE FUNCTION boom(i int) RETURNS int LANGUAGE plpython3u AS $$
if i == 3:
    raise ValueError("three is bad")
return i
$$`)
  await c.query('CREATE TABLE spin_t (a int, b int)')
  await c.query(`CREATE FUNCTION spin_trig() RETURNS trigger LANGUAGE plpython3u AS $$
TD['new']['b'] = TD['new']['a']
return 'MODIFY'
$$`)
  await c.query('CREATE TRIGGER spin_bi BEFORE INSERT ON spin_t FOR EACH ROW EXECUTE FUNCTION spin_trig()')
})

afterAll(async () => {
  await c?.end()
  await srv?.stop()
})

describe('fast paths', () => {
  it('a CancelRequest stops per-row calls, a plpy.execute loop and a trigger storm within a second', async () => {
    const long = [
      'SELECT sum(inc(i)) FROM generate_series(1, 2000000000) i',
      'SELECT spi_spin()',
      'INSERT INTO spin_t SELECT i, 0 FROM generate_series(1, 2000000000) i',
    ]
    for (const sql of long) {
      const q = c.query(sql).catch((e) => e)
      await new Promise((r) => setTimeout(r, 500))
      const t0 = Date.now()
      await cancelClient(srv, c)
      const e = await q
      expect(Date.now() - t0).toBeLessThan(1000)
      expect([e.code, e.message]).toEqual(['57014', 'canceling statement due to user request'])
    }
    expect((await c.query('SELECT count(*)::int AS n FROM spin_t')).rows).toEqual([{ n: 0 }])
    expect((await c.query('SELECT inc(41) AS v')).rows).toEqual([{ v: 42 }])
  })

  it('text results of every size around the reserved chunk arrive whole, also from nested calls', async () => {
    const sizes = [0, 1, 120, 123, 124, 125, 128, 200, 5000, 70000]
    const r = await c.query(
      "SELECT n, length(rep(s, n)) AS len, rep(s, n) = repeat(s, n) AS same FROM unnest($1::int[]) n, (VALUES ('é'), ('a')) v(s) ORDER BY n, s",
      [sizes],
    )
    expect(r.rows.map((x) => [x.n, x.len, x.same])).toEqual(
      sizes.flatMap((n) => [
        [n, n, true],
        [n, n, true],
      ]),
    )
    const o = await c.query(
      "SELECT n, outer_rep(n) = repeat('x', n) || '|' || repeat('y', 2 * n) AS ok FROM unnest($1::int[]) n",
      [[1, 60, 100, 3000]],
    )
    expect(o.rows.every((x) => x.ok === true)).toBe(true)
    expect((await c.query("SELECT ident(NULL) AS v, rep('ab', 0) AS e")).rows).toEqual([{ v: null, e: '' }])
  })

  it('a Python error in a per-row call keeps its message, traceback and SQLSTATE', async () => {
    const e = await c.query('SELECT sum(boom(i)) FROM generate_series(1, 5) i').catch((x) => x)
    expect([e.code, e.message]).toEqual(['38000', 'ValueError: three is bad'])
    expect(e.where).toBe(
      'Traceback (most recent call last):\n  PL/Python function "boom", line 3, in <module>\n    raise ValueError("three is bad")\nPL/Python function "boom"',
    )
    expect((await c.query('SELECT sum(boom(i))::int AS s FROM generate_series(4, 5) i')).rows).toEqual([
      { s: 9 },
    ])
  })
})
