// plcolumns' streaming edges (docs/columns.md), on pyglite and, where PostgreSQL 15 behaves the same, on
// the reference too: a transform stopped early by LIMIT stops reading its input, an error in the
// seventh batch leaves nothing behind, statement_timeout and a cancel request stop a transform within a
// second, and a cursor's batches stream a result larger than one batch without keeping it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cancelClient } from '../helpers/clients.js'
import { type Both, rowsOf, startBoth } from './both.js'

let b: Both
beforeAll(async () => {
  b = await startBoth()
  await b.run(`
    CREATE TABLE src(a float8, b float8);
    INSERT INTO src SELECT g, g * 2 FROM generate_series(1, 20000) g;
    CREATE TABLE dst(a float8, b float8, s float8);
    CREATE SEQUENCE produced;
    CREATE FUNCTION add_columns(q text, size int, fail_at int DEFAULT 0, lazy bool DEFAULT false)
      RETURNS TABLE(a float8, b float8, s float8) LANGUAGE plpython3u AS $$
import plcolumns
GD["batches"] = 0
def add(c):
    GD["batches"] += 1
    if GD["batches"] == fail_at:
        plpy.error("batch %d is bad" % fail_at, sqlstate="22023")
    return {"a": c["a"], "b": c["b"], "s": c["a"] + c["b"]}
t = plcolumns.transform(q, add, batch=size, kind="numpy", lazy=lazy)
def run():
    GD["finished"] = False
    try:
        yield from t
    finally:
        GD["finished"] = True
return run()
$$;
    CREATE FUNCTION progress() RETURNS text LANGUAGE plpython3u AS $$
return "%s %s" % (GD.get("batches"), GD.get("finished"))
$$;
  `)
}, 600_000)
afterAll(async () => {
  await b?.stop()
})

async function same(sql: string): Promise<Record<string, unknown>[]> {
  const [g, r] = await b.run(sql)
  expect(g).toEqual(r)
  return rowsOf(g)
}

describe('a transform over a query', () => {
  it('LIMIT on the function in the select list stops reading the input after the first batch', async () => {
    const rows = await same(
      "SELECT (t).a, (t).s FROM (SELECT add_columns('SELECT g::float8 AS a, nextval(''produced'')::float8 AS b " +
        "FROM generate_series(1, 100000) g', 500, 0, true) AS t LIMIT 3) x",
    )
    expect(rows).toEqual([
      { a: 1, s: 2 },
      { a: 2, s: 4 },
      { a: 3, s: 6 },
    ])
    // one batch of 500 input rows was computed, not 100,000, and the generator was closed
    expect(await same('SELECT last_value FROM produced')).toEqual([{ last_value: '500' }])
    expect(await same('SELECT progress()')).toEqual([{ progress: '1 True' }])
  })

  // lazy: one row per call (PL/Python's protocol); not lazy: pyglite hands the batches over as a tuplestore
  it.each([false, true])(
    'an error in batch 7 leaves no row and no open cursor behind (lazy %s)',
    async (lazy) => {
      await same('TRUNCATE dst')
      const [g, r] = await b.run(
        `INSERT INTO dst SELECT * FROM add_columns('SELECT a, b FROM src', 1000, 7, ${lazy})`,
      )
      // the tracebacks differ in plcolumns' own frames (the handover is pyglite's): compare the rest
      const noWhere = (o: typeof g) => ('error' in o ? { ...o.error, where: undefined } : o)
      expect(noWhere(g)).toEqual(noWhere(r))
      expect('error' in g && g.error.where).toMatch(/line 7, in add\n {4}plpy\.error\("batch %d is bad"/)
      // PL/Python reports an error raised while it fetches the next row so, keeping the SQLSTATE
      expect(g).toMatchObject({ error: { code: '22023', message: 'error fetching next item from iterator' } })
      expect(await same('SELECT count(*) AS n FROM dst')).toEqual([{ n: '0' }])
      expect(await same('SELECT count(*) AS n FROM pg_cursors')).toEqual([{ n: '0' }])
      expect(await same('SELECT progress()')).toEqual([{ progress: '7 True' }])
      // the next statement runs normally
      await same(`INSERT INTO dst SELECT * FROM add_columns('SELECT a, b FROM src', 1000, 0, ${lazy})`)
      expect(await same('SELECT count(*) AS n, sum(s) AS s FROM dst')).toEqual([{ n: '20000', s: 600030000 }])
    },
  )
})

describe('columns of tables whose rows predate ALTER TABLE', () => {
  it('rows written before ADD COLUMN ... DEFAULT and DROP COLUMN, NULLs in between', async () => {
    await b.run(`CREATE TABLE evolve(a int4, b float8, c int2);
INSERT INTO evolve SELECT g, g * 0.5, g FROM generate_series(1, 1000) g;
ALTER TABLE evolve ADD COLUMN d int8 DEFAULT 7;
INSERT INTO evolve VALUES (1001, NULL, 3, 8), (1002, 2.5, NULL, NULL);
ALTER TABLE evolve DROP COLUMN b;
INSERT INTO evolve VALUES (1003, 4, 9);
CREATE FUNCTION evolved() RETURNS text LANGUAGE plpython3u AS $$
import plcolumns
c = plcolumns.execute("SELECT a, c, d FROM evolve ORDER BY a", kind="numpy")
return "%d %d %d %s %s %s" % (int(c["a"].sum()), int(c["c"].sum()), int(c["d"].sum()), c["d"][-4:].tolist(),
    c.nulls["c"].nonzero()[0].tolist(), c.nulls["d"].nonzero()[0].tolist())
$$`)
    expect(await same('SELECT evolved()')).toEqual([
      { evolved: '503506 500507 7017 [7, 8, None, 9] [1001] [1001]' },
    ])
  })
})

describe('columns into rows in pyglite', () => {
  it('a function in FROM hands its rows over as column batches, one per call in the select list', async () => {
    await b.g.query(`CREATE FUNCTION handed() RETURNS int8 LANGUAGE plpython3u AS $$
from plcolumns import _fast
return _fast.stats["rows_handed_over"]
$$`)
    const before = Number((await b.g.query('SELECT handed() AS n')).rows[0].n)
    const rows = await b.g.query(
      "SELECT count(*)::int AS n, sum(s) AS s FROM add_columns('SELECT a, b FROM src', 3000)",
    )
    expect(rows.rows).toEqual([{ n: 20000, s: 600030000 }])
    const after = Number((await b.g.query('SELECT handed() AS n')).rows[0].n)
    expect(after - before).toBe(20000)
    await b.g.query("SELECT count(*) FROM add_columns('SELECT a, b FROM src', 3000, 0, true)")
    expect(Number((await b.g.query('SELECT handed() AS n')).rows[0].n)).toBe(after)
  })

  it('text and numeric columns go through their input functions batch by batch', async () => {
    await b.run(`CREATE FUNCTION textrows(n int) RETURNS TABLE(t text, d numeric, k int8) LANGUAGE plpython3u AS $$
import plcolumns, numpy as np
def f(c):
    g = c["g"]
    return {"t": ["row %d" % v for v in g.tolist()], "d": [v / 4 for v in g.tolist()], "k": g * 3}
return plcolumns.transform("SELECT g::int8 AS g FROM generate_series(1, %d) g" % n, f, batch=50000, kind="numpy")
$$`)
    expect(
      await same('SELECT count(*) AS n, sum(length(t)) AS l, sum(d) AS d, sum(k) AS k FROM textrows(120000)'),
    ).toEqual([{ n: '120000', l: '1088895', d: '1800015000.00', k: '21600180000' }])
  })

  it('rows after a handover are refused, not lost (PostgreSQL would return them one per call)', async () => {
    await b.g.query(`CREATE FUNCTION more_after() RETURNS TABLE(k int4) LANGUAGE plpython3u AS $$
import plcolumns
r = plcolumns.rows({"k": [1, 2]})
def wrap():
    yield from r
    yield 3
return wrap()
$$`)
    const err = await b.g.query('SELECT * FROM more_after()').then(
      () => null,
      (e: { code?: string; message: string; hint?: string }) => e,
    )
    expect(err).toMatchObject({
      code: '0A000',
      message: 'set-returning function returned rows after handing its result over as columns',
      hint: 'Return plcolumns.rows(...) or plcolumns.transform(...) itself, or pass lazy=True.',
    })
    await b.g.query(`CREATE OR REPLACE FUNCTION more_after() RETURNS TABLE(k int4) LANGUAGE plpython3u AS $$
import plcolumns
r = plcolumns.rows({"k": [1, 2]}, lazy=True)
def wrap():
    yield from r
    yield 3
return wrap()
$$`)
    expect((await b.g.query('SELECT * FROM more_after()')).rows).toEqual([{ k: 1 }, { k: 2 }, { k: 3 }])
  })
})

describe('stopping a long transform', () => {
  const endless =
    "SELECT count(*) FROM add_columns('SELECT g::float8 AS a, g::float8 AS b FROM generate_series(1, 2000000000) g', 50000)"

  it('statement_timeout stops it within a second, with 57014 (PostgreSQL 15 the same)', async () => {
    const timed = async (c: typeof b.g) => {
      await c.query("SET statement_timeout = '1500ms'")
      const t0 = Date.now()
      const err = await c.query(endless).then(
        () => null,
        (e: { code?: string; message: string }) => e,
      )
      const elapsed = Date.now() - t0
      await c.query('RESET statement_timeout')
      return { code: err?.code, message: err?.message, elapsed }
    }
    const g = await timed(b.g)
    const r = await timed(b.r)
    // raised inside the generator while it reads a batch: PL/Python reports it as the iterator's error
    expect(g).toMatchObject({ code: '57014', message: r.message })
    expect(r.code).toBe('57014')
    expect(g.elapsed).toBeLessThan(2500)
    expect((await b.g.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })

  it('a cancel request during a batch stops it within a second', async () => {
    const q = b.g.query(endless).then(
      () => null,
      (e: { code?: string; message: string }) => e,
    )
    await new Promise((r) => setTimeout(r, 1000))
    const t0 = Date.now()
    await cancelClient(b.glite, b.g)
    const err = await q
    expect(Date.now() - t0).toBeLessThan(1000)
    expect(err).toMatchObject({ code: '57014' })
    expect(
      (await b.g.query("SELECT count(*)::int AS n FROM add_columns('SELECT a, b FROM src', 4096)")).rows,
    ).toEqual([{ n: 20000 }])
  })
})

describe('a cursor streams', () => {
  it('reads a result much larger than a batch batch by batch', async () => {
    await b.run(`CREATE FUNCTION stream(n int, size int) RETURNS text LANGUAGE plpython3u AS $$
import plcolumns
count, total, biggest = 0, 0, 0
for c in plcolumns.cursor("SELECT g::int8 AS g FROM generate_series(1, %d) g" % n, batch=size, kind="numpy"):
    count += 1
    total += int(c["g"].sum())
    biggest = max(biggest, len(c["g"]))
return "%d %d %d" % (count, total, biggest)
$$`)
    expect(await same('SELECT stream(250000, 10000)')).toEqual([{ stream: '25 31250125000 10000' }])
  })

  it('execute() of a result larger than the engine reads at once keeps every row, NULL and value', async () => {
    await b.run(`CREATE FUNCTION big_execute() RETURNS text LANGUAGE plpython3u AS $$
import plcolumns
c = plcolumns.execute("SELECT g::int4 AS g, CASE WHEN g % 50000 = 0 THEN NULL ELSE g::text END AS t FROM generate_series(1, 120001) g", kind="numpy")
return "%d %d %s %s %s" % (c.nrows, int(c["g"].sum()), c["t"][-1], c.nulls["t"].nonzero()[0].tolist(), c["t"][99999])
$$`)
    expect(await same('SELECT big_execute()')).toEqual([
      { big_execute: '120001 7200180001 120001 [49999, 99999] None' },
    ])
  })
})

describe('a query that runs statements of its own while its columns are read', () => {
  it('a multi-statement SQL function per row, one that fails midway and is caught, columns read inside', async () => {
    await b.run(`CREATE FUNCTION twice(x float8) RETURNS float8 LANGUAGE sql AS $q$
  SELECT g FROM generate_series(1, 3) g;
  SELECT x * 2
$q$;
CREATE FUNCTION fails_midway() RETURNS int LANGUAGE sql AS $q$
  SELECT 1 / (g - 2) FROM generate_series(1, 3) g;
  SELECT 1
$q$;
CREATE FUNCTION careful(x float8) RETURNS float8 LANGUAGE plpgsql AS $q$
BEGIN
  IF x::int % 1000 = 0 THEN
    BEGIN
      PERFORM fails_midway();
    EXCEPTION WHEN division_by_zero THEN
      RETURN -x;
    END;
  END IF;
  RETURN twice(x);
END $q$;
CREATE FUNCTION inner_columns(x float8) RETURNS float8 LANGUAGE plpython3u AS $q$
import plcolumns
c = plcolumns.execute("SELECT g::float8 AS v FROM generate_series(1, 3) g", kind="numpy")
return x + float(c["v"].sum())
$q$;
CREATE FUNCTION read_all(q text) RETURNS text LANGUAGE plpython3u AS $q$
import plcolumns
c = plcolumns.execute(q, kind="numpy")
return "%d %r %r" % (c.nrows, float(c["a"].sum()), float(c["b"].sum()))
$q$`)
    // twice(): the earlier statement's rows go to None_Receiver, which the columns' reader borrows
    expect(
      await same(
        "SELECT count(*) AS n, sum(s) AS s FROM add_columns('SELECT a, twice(a) AS b FROM src', 3000)",
      ),
    ).toEqual([{ n: '20000', s: 600030000 }])
    // careful(): every 1000th row's nested statement fails after its first row and the error is caught
    expect(
      await same(
        "SELECT count(*) AS n, sum(s) AS s FROM add_columns('SELECT a, careful(a) AS b FROM src', 7000)",
      ),
    ).toEqual([{ n: '20000', s: 600030000 - 3 * 210000 }])
    expect(await same("SELECT read_all('SELECT a, careful(a) AS b FROM src') AS r")).toEqual([
      { r: `20000 200010000.0 ${400020000 - 3 * 210000}.0` },
    ])
    // columns read by a function the query calls, while the query's own columns are being read
    expect(
      await same(
        "SELECT count(*) AS n, sum(s) AS s FROM add_columns('SELECT a, inner_columns(a) AS b FROM src WHERE a <= 3000', 1000)",
      ),
    ).toEqual([{ n: '3000', s: 9021000 }])
    expect(await same("SELECT read_all('SELECT a, inner_columns(a) AS b FROM src') AS r")).toEqual([
      { r: '20000 200010000.0 200130000.0' },
    ])
  })
})

describe('a cursor whose rows are made before they are read', () => {
  // pyglite only: the portable module reads cursors through plpy.cursor, which cannot open a CALL
  it('CALL of a multi-statement SQL procedure: its statements run first, then its OUT row is read', async () => {
    await b.g.query(`CREATE PROCEDURE two_out(INOUT a int8, INOUT b float8) LANGUAGE sql AS $q$
  SELECT g FROM generate_series(1, 5) g;
  SELECT a * 2, b / 2
$q$`)
    await b.g.query(`CREATE FUNCTION cursor_over_call() RETURNS text LANGUAGE plpython3u AS $q$
import plcolumns
return "; ".join("%s %s" % (c["a"], c["b"]) for c in plcolumns.cursor("CALL two_out(21, 9.0)", batch=10, kind="list"))
$q$`)
    expect((await b.g.query('SELECT cursor_over_call() AS r')).rows).toEqual([{ r: '[42] [4.5]' }])
  })
})

describe('a cursor whose query nests SQL functions deeply', () => {
  // pyglite only: PostgreSQL 15's max_stack_depth stops this nesting; in wasm it sees only the shadow stack
  it('1,100 levels of a SQL function whose earlier statement recurses: every row read', async () => {
    await b.g.query(`CREATE FUNCTION sqlrec(n int) RETURNS int LANGUAGE sql AS $q$
  SELECT CASE WHEN n > 0 THEN sqlrec(n - 1) ELSE 0 END;
  SELECT n
$q$`)
    await b.g.query(`CREATE FUNCTION deep_columns(k int) RETURNS text LANGUAGE plpython3u AS $q$
import plcolumns
c = plcolumns.execute("SELECT sqlrec(%d) AS a, g FROM generate_series(1, 3) g" % k, kind="list")
return repr((c["a"], c["g"]))
$q$`)
    for (const k of [100, 1100])
      expect((await b.g.query('SELECT deep_columns($1) AS r', [k])).rows).toEqual([
        { r: `([${k}, ${k}, ${k}], [1, 2, 3])` },
      ])
  })
})

describe('packed columns both ways', () => {
  it('every fixed-width type in and out, with NULLs, extremes, NaN and -0, over several batches', async () => {
    await b.run(`CREATE TABLE kinds(k int4, b bool, s int2, i int4, o oid, q int8, f float4, d float8);
INSERT INTO kinds VALUES
  (1, true, -32768, -2147483648, 4294967295, -9223372036854775808, -1.5, 'NaN'),
  (2, false, 32767, 2147483647, 0, 9223372036854775807, 'Infinity', '-0'),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (4, true, -1, -1, 1, -1, 3.25, 1e308),
  (5, NULL, 7, NULL, 7, NULL, '-Infinity', NULL);
CREATE FUNCTION kinds_round(q text) RETURNS TABLE(k int4, b bool, s int2, i int4, o oid, q int8, f float4, d float8)
LANGUAGE plpython3u AS $$
import plcolumns
return plcolumns.transform(q, lambda c: c, batch=2, kind="numpy")
$$`)
    const direct = await same('SELECT * FROM kinds ORDER BY k')
    expect(direct).toHaveLength(5)
    expect(await same("SELECT * FROM kinds_round('SELECT * FROM kinds ORDER BY k')")).toEqual(direct)
  })

  it('rows of every packed type in an order that pads between them, without NULLs and with', async () => {
    await b.run(`CREATE FUNCTION mixed_round(q text) RETURNS TABLE(b bool, s int2, q int8, i int4, o oid, d float8, k int4)
LANGUAGE plpython3u AS $$
import plcolumns
return plcolumns.transform(q, lambda c: c, batch=2, kind="numpy")
$$`)
    const q = 'SELECT b, s, q, i, o, d, k FROM kinds WHERE k <> 3 ORDER BY k'
    const direct = await same(q)
    expect(direct).toHaveLength(4)
    expect(await same(`SELECT * FROM mixed_round('${q}')`)).toEqual(direct)
    const many =
      'SELECT g % 2 = 0 AS b, (g % 30000)::int2 AS s, g * 3000000000 AS q, -g AS i, g::oid AS o, g / 7.0::float8 AS d, g AS k FROM generate_series(1, 5000) g'
    expect(
      await same(
        `SELECT count(*) AS n, sum(s) AS s, sum(q) AS q, sum(i) AS i, sum(o::int8) AS o, sum(d) AS d, sum(k) AS k, count(*) FILTER (WHERE b) AS b FROM mixed_round('${many}')`,
      ),
    ).toEqual(
      await same(
        `SELECT count(*) AS n, sum(s) AS s, sum(q) AS q, sum(i) AS i, sum(o::int8) AS o, sum(d) AS d, sum(k) AS k, count(*) FILTER (WHERE b) AS b FROM (${many}) x`,
      ),
    )
  })

  it("the copies between wasm memory and Python check their range (pyglite's _pyglite)", async () => {
    await b.g.query(`CREATE FUNCTION wasm_bounds() RETURNS text LANGUAGE plpython3u AS $$
import _pyglite
out = []
for f, args in ((_pyglite.wasm_read, (2**40, bytearray(8))), (_pyglite.wasm_write, (2**32 - 4, b"12345678"))):
    try:
        f(*args)
        out.append("no error")
    except ValueError as e:
        out.append(str(e))
return " | ".join(out)
$$`)
    expect((await b.g.query('SELECT wasm_bounds() AS w')).rows[0].w).toBe(
      "wasm memory range 1099511627776+8 is outside the engine's memory | " +
        "wasm memory range 4294967292+8 is outside the engine's memory",
    )
  })
})
