// Subtransactions (implicit per plpy operation, explicit with plpy.subtransaction()) and transaction
// control (plpy.commit/plpy.rollback) through node-postgres: table contents after success and failure.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'
import { type Client, connect, failure } from './clients.js'

let srv: TestServer
let c: Client

beforeAll(async () => {
  srv = await startServer()
  c = await connect(srv)
  await c.query('CREATE TABLE t (i int PRIMARY KEY)')
})
afterAll(async () => {
  await c?.end()
  await srv?.stop()
})
beforeEach(async () => {
  await c.query('TRUNCATE t')
  c.notices.length = 0
})

const rows = async () => (await c.query('SELECT i FROM t ORDER BY i')).rows.map((r) => r.i)
const notices = () => c.notices.map((n) => `${n.severity}: ${n.message}`)

describe('subtransactions', () => {
  it('rolls back only the failing plpy.execute (implicit subtransaction)', async () => {
    await c.query(`DO $$
plpy.execute("INSERT INTO t VALUES (1)")
try:
    plpy.execute("INSERT INTO t VALUES (1)")
except plpy.spiexceptions.UniqueViolation:
    plpy.notice("duplicate")
plpy.execute("INSERT INTO t VALUES (2)")
$$ LANGUAGE plpython3u`)
    expect(await rows()).toEqual([1, 2])
    expect(notices()).toEqual(['NOTICE: duplicate'])
  })

  it('commits a with-block, rolls it back on an exception, and nests', async () => {
    await c.query(`DO $$
with plpy.subtransaction():
    plpy.execute("INSERT INTO t VALUES (1)")
    try:
        with plpy.subtransaction():
            plpy.execute("INSERT INTO t VALUES (2)")
            plpy.execute("INSERT INTO t VALUES (1)")
    except plpy.SPIError as e:
        plpy.notice("inner: %s" % type(e).__name__)
    try:
        with plpy.subtransaction():
            plpy.execute("INSERT INTO t VALUES (3)")
            raise ValueError("python error")
    except ValueError:
        pass
    plpy.execute("INSERT INTO t VALUES (4)")
$$ LANGUAGE plpython3u`)
    expect(await rows()).toEqual([1, 4])
    expect(notices()).toEqual(['NOTICE: inner: UniqueViolation'])
  })

  it('aborts the statement atomically when an error escapes the subtransaction', async () => {
    await c.query(`CREATE FUNCTION sub_fail() RETURNS void LANGUAGE plpython3u AS $$
with plpy.subtransaction():
    plpy.execute("INSERT INTO t VALUES (1)")
    plpy.execute("INSERT INTO t VALUES ('x')")
$$`)
    const e = await failure(c, 'SELECT sub_fail()')
    expect([e.code, e.message]).toEqual([
      '22P02',
      'spiexceptions.InvalidTextRepresentation: invalid input syntax for type integer: "x"',
    ])
    expect(await rows()).toEqual([])
  })

  it('forcibly aborts subtransactions a function leaves open, with a WARNING', async () => {
    await c.query(`CREATE FUNCTION sub_leak() RETURNS int LANGUAGE plpython3u AS $$
plpy.execute("INSERT INTO t VALUES (1)")
s = plpy.subtransaction()
s.enter()
plpy.execute("INSERT INTO t VALUES (2)")
plpy.subtransaction().__enter__()
return 7
$$`)
    expect((await c.query('SELECT sub_leak() AS v')).rows[0].v).toBe(7)
    expect(await rows()).toEqual([1])
    expect(notices()).toEqual([
      'WARNING: forcibly aborting a subtransaction that has not been exited',
      'WARNING: forcibly aborting a subtransaction that has not been exited',
    ])
    expect(c.notices[0]?.code).toBe('01000')
  })

  it('rejects misuse of subtransaction objects with ValueError', async () => {
    const msgs: string[] = []
    for (const body of [
      'plpy.subtransaction().__exit__(None, None, None)',
      's = plpy.subtransaction()\ns.__enter__()\ns.__exit__(None, None, None)\ns.__exit__(None, None, None)',
      'with plpy.subtransaction() as s:\n    s.__enter__()',
    ]) {
      msgs.push((await failure(c, `DO $py$\n${body}\n$py$ LANGUAGE plpython3u`)).message)
    }
    expect(msgs).toEqual([
      'ValueError: this subtransaction has not been entered',
      'ValueError: this subtransaction has already been exited',
      'ValueError: this subtransaction has already been entered',
    ])
  })
})

describe('plpy.commit and plpy.rollback', () => {
  it('commit and roll back inside procedures and DO blocks', async () => {
    await c.query(`CREATE PROCEDURE evens() LANGUAGE plpython3u AS $$
for i in range(6):
    plpy.execute("INSERT INTO t VALUES (%d)" % i)
    if i % 2 == 0:
        plpy.commit()
    else:
        plpy.rollback()
$$`)
    await c.query('CALL evens()')
    expect(await rows()).toEqual([0, 2, 4])
    await c.query('TRUNCATE t')
    await c.query(`DO $$
plpy.execute("INSERT INTO t VALUES (10)")
plpy.commit()
plpy.execute("INSERT INTO t VALUES (11)")
plpy.rollback()
plpy.execute("INSERT INTO t VALUES (12)")
$$ LANGUAGE plpython3u`)
    expect(await rows()).toEqual([10, 12])
  })

  it('keeps committed work when a later part of the procedure fails', async () => {
    const e = await failure(
      c,
      `DO $$
plpy.execute("INSERT INTO t VALUES (1)")
plpy.commit()
plpy.execute("INSERT INTO t VALUES (2)")
plpy.execute("SELECT 1/0")
$$ LANGUAGE plpython3u`,
    )
    expect(e.code).toBe('22012')
    expect(await rows()).toEqual([1])
  })

  it('raises PostgreSQL errors where transaction control is not allowed', async () => {
    await c.query(`CREATE FUNCTION in_function() RETURNS int LANGUAGE plpython3u AS $$
plpy.execute("INSERT INTO t VALUES (1)")
plpy.commit()
$$`)
    const f = await failure(c, 'SELECT in_function()')
    expect([f.code, f.message]).toEqual([
      '2D000',
      'spiexceptions.InvalidTransactionTermination: invalid transaction termination',
    ])
    await c.query(`CREATE PROCEDURE committer() LANGUAGE plpython3u AS $$
plpy.execute("INSERT INTO t VALUES (2)")
plpy.commit()
$$`)
    await c.query('BEGIN')
    const b = await failure(c, 'CALL committer()')
    await c.query('ROLLBACK')
    expect([b.code, b.message]).toEqual([
      '2D000',
      'spiexceptions.InvalidTransactionTermination: invalid transaction termination',
    ])
    await c.query(`CREATE FUNCTION calls_procedure() RETURNS int LANGUAGE plpython3u AS $$
plpy.execute("CALL committer()")
return 1
$$`)
    const n = await failure(c, 'SELECT calls_procedure()')
    expect(n.message).toBe(
      'spiexceptions.InvalidTransactionTermination: spiexceptions.InvalidTransactionTermination: invalid transaction termination',
    )
    const s = await failure(
      c,
      `DO $$
with plpy.subtransaction():
    plpy.commit()
$$ LANGUAGE plpython3u`,
    )
    expect([s.code, s.message]).toEqual([
      '2D000',
      'spiexceptions.InvalidTransactionTermination: cannot commit while a subtransaction is active',
    ])
    expect(await rows()).toEqual([])
  })

  it('reports an error raised by COMMIT itself and goes on in a new transaction', async () => {
    await c.query('CREATE TABLE pk (id int PRIMARY KEY)')
    await c.query('CREATE TABLE fk (f int REFERENCES pk DEFERRABLE INITIALLY DEFERRED)')
    await c.query(`DO $$
plpy.execute("INSERT INTO fk VALUES (0)")
try:
    plpy.commit()
except plpy.spiexceptions.ForeignKeyViolation as e:
    plpy.notice("commit failed: %s" % e.sqlstate)
plpy.execute("INSERT INTO pk VALUES (1)")
plpy.execute("INSERT INTO fk VALUES (1)")
$$ LANGUAGE plpython3u`)
    expect(notices()).toEqual(['NOTICE: commit failed: 23503'])
    expect((await c.query('SELECT f FROM fk')).rows).toEqual([{ f: 1 }])
  })

  it('commits inside a cursor loop (the portal is held) and leaks no portal', async () => {
    await c.query(`DO $$
for row in plpy.cursor("SELECT generate_series(1, 4) AS x"):
    plpy.execute("INSERT INTO t VALUES (%d)" % row['x'])
    plpy.commit()
$$ LANGUAGE plpython3u`)
    expect(await rows()).toEqual([1, 2, 3, 4])
    expect((await c.query('SELECT count(*)::int AS n FROM pg_cursors')).rows[0].n).toBe(0)
  })

  it('refreshes materialized views in a procedure, committing between them', async () => {
    await c.query('CREATE TABLE src (v int)')
    await c.query('INSERT INTO src VALUES (1), (2)')
    await c.query('CREATE MATERIALIZED VIEW mv_sum AS SELECT sum(v)::int AS s FROM src')
    await c.query('CREATE MATERIALIZED VIEW mv_cnt AS SELECT count(*)::int AS n FROM src')
    await c.query('CREATE MATERIALIZED VIEW mv_bad AS SELECT 10 / (count(*)::int - 3) AS q FROM src')
    await c.query(`CREATE PROCEDURE refresh_views(names text) LANGUAGE plpython3u AS $$
for name in names.split(","):
    plpy.execute("REFRESH MATERIALIZED VIEW " + plpy.quote_ident(name))
    plpy.commit()
    plpy.notice("refreshed " + name)
$$`)
    await c.query('INSERT INTO src VALUES (3)')
    // the third refresh fails (division by zero): the first two stay refreshed, they were committed
    const e = await failure(c, `CALL refresh_views('mv_sum,mv_cnt,mv_bad')`)
    expect(e.code).toBe('22012')
    expect(notices()).toEqual(['NOTICE: refreshed mv_sum', 'NOTICE: refreshed mv_cnt'])
    const r = await c.query('SELECT s, n FROM mv_sum, mv_cnt')
    expect(r.rows).toEqual([{ s: 6, n: 3 }])
    expect((await c.query('SELECT q FROM mv_bad')).rows).toEqual([{ q: -10 }])
  })
})
