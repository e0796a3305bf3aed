// plcolumns (docs/columns.md) on pyglite and on PostgreSQL 15 + plpython3u with the same SQL: query
// results as lists, numpy arrays and DataFrames (types, NULL rules, datetime64), cursors in batches,
// set-returning functions returning columns and their errors, a transform over a query, batch
// aggregates against avg/stddev, and the list forms without numpy. Every case asserts its values and
// that both servers agree (pyglite builds the columns in the engine, the reference in pure Python).
import { execFileSync, spawnSync } from 'node:child_process'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pg18Bin } from '../helpers/reference.js'
import { type Both, rowsOf, startBoth } from './both.js'

let b: Both
beforeAll(async () => {
  b = await startBoth()
  await b.run(`
    CREATE TABLE m(host text, ts timestamptz, cpu float8, mem float8, n int4, big int8, small int2,
                   ok bool, price numeric, day date, tags text[], doc jsonb);
    INSERT INTO m SELECT 'h' || (g % 3), timestamptz '2024-03-01 00:00:00+00' + g * interval '1 minute',
      g * 0.5, 100 - g, g, g * 10000000000, g, g % 2 = 0, g / 4.0, date '2024-03-01' + g,
      ARRAY['t' || g], jsonb_build_object('g', g) FROM generate_series(1, 25) g;
    INSERT INTO m(host) VALUES ('null-row');
    CREATE TABLE pairs(a float8, b float8, grp int4);
    INSERT INTO pairs SELECT sin(g) * 10, cos(g) * 3 + g % 7, g % 10 FROM generate_series(1, 5000) g;
    INSERT INTO pairs VALUES (NULL, 1, 1), (2, NULL, 1), (NULL, NULL, 99);
  `)
}, 600_000)
afterAll(async () => {
  await b?.stop()
})

/** Run on both servers; both must succeed with the same rows, which are returned. */
async function same(sql: string): Promise<Record<string, unknown>[]> {
  const [g, r] = await b.run(sql)
  expect(g).toEqual(r)
  return rowsOf(g)
}

/** Run on both servers; both must fail the same way, which is returned. */
async function sameError(sql: string) {
  const [g, r] = await b.run(sql)
  expect(g).toEqual(r)
  if (!('error' in g)) throw new Error(`expected an error, got ${JSON.stringify(g)}`)
  return g.error
}

describe('columns out of a query', () => {
  it('lists with PL/Python conversions and None for NULL', async () => {
    await b.run(`CREATE FUNCTION lists() RETURNS text LANGUAGE plpython3u AS $$
import plcolumns
c = plcolumns.execute("SELECT n, cpu, big, small, ok, price, day, tags, doc, host FROM m ORDER BY n NULLS LAST", datetimes=True)
return repr([(k, c[k][0], c[k][-1], c.nulls[k] is not None, c.types[k]) for k in c]) + ' %d' % c.nrows
$$`)
    const [row] = await same('SELECT lists()')
    expect(row!.lists).toBe(
      "[('n', 1, None, True, 23), ('cpu', 0.5, None, True, 701), ('big', 10000000000, None, True, 20), " +
        "('small', 1, None, True, 21), ('ok', False, None, True, 16), ('price', Decimal('0.25000000000000000000'), None, True, 1700), " +
        "('day', '2024-03-02', None, True, 1082), ('tags', ['t1'], None, True, 1009), ('doc', '{\"g\": 1}', None, True, 3802), " +
        "('host', 'h1', 'null-row', False, 25)] 26",
    )
  })

  it('numpy arrays: fixed-width dtypes, masks for NULL, object columns, nan and raise', async () => {
    await b.run(`CREATE FUNCTION arrays(nulls text) RETURNS text LANGUAGE plpython3u AS $$
import plcolumns, numpy as np
c = plcolumns.execute("SELECT n, cpu, big, small, ok, price, host FROM m ORDER BY n NULLS LAST", kind="numpy", nulls=nulls)
out = []
for k, v in c.items():
    out.append("%s:%s:%s:%s" % (k, v.dtype, type(v).__name__, v.mean() if v.dtype.kind in "if" else v[0]))
return " ".join(out) + " mask=%s" % (c.nulls["n"].nonzero()[0].tolist(),)
$$`)
    const [m] = await same("SELECT arrays('mask')")
    // masked arrays: NULL is left out of mean() as avg() leaves it out, never counted as 0
    expect(m!.arrays).toBe(
      'n:int32:MaskedArray:13.0 cpu:float64:MaskedArray:6.5 big:int64:MaskedArray:130000000000.0 ' +
        'small:int16:MaskedArray:13.0 ok:bool:MaskedArray:False price:object:ndarray:0.25000000000000000000 host:object:ndarray:h1 mask=[25]',
    )
    const [n] = await same("SELECT arrays('nan')")
    expect(n!.arrays).toBe(
      'n:float64:ndarray:nan cpu:float64:ndarray:nan big:float64:ndarray:nan small:float64:ndarray:nan ' +
        'ok:float64:ndarray:nan price:object:ndarray:0.25000000000000000000 host:object:ndarray:h1 mask=[25]',
    )
    const e = await sameError("SELECT arrays('raise')")
    expect(e.message).toBe(
      'ValueError: plcolumns: column "n" has 1 NULL value(s) and nulls="raise" was asked for',
    )
    const avg = await same('SELECT avg(n)::float8 AS n, avg(cpu) AS cpu FROM m')
    expect(avg).toEqual([{ n: 13, cpu: 6.5 }])
  })

  it('dates and timestamps as datetime64 where asked, a DataFrame with nullable dtypes', async () => {
    await b.run(`CREATE FUNCTION frames() RETURNS text LANGUAGE plpython3u AS $$
import plcolumns
c = plcolumns.execute("SELECT day, ts FROM m ORDER BY n NULLS LAST", kind="numpy", datetimes=True)
d = plcolumns.execute("SELECT n, cpu, ok, host, ts FROM m ORDER BY n NULLS LAST", kind="pandas", datetimes=True)
return "%s %s %s %s | %s | %s | %s" % (c["day"].dtype, c["day"][0], c["ts"][1], c["ts"][-1],
    dict(d.dtypes.astype(str)), d["n"].sum(), d.iloc[-1].tolist())
$$`)
    const [row] = await same('SELECT frames()')
    expect(row!.frames).toBe(
      "datetime64[D] 2024-03-02 2024-03-01T00:02:00.000000 -- | {'n': 'Int32', 'cpu': 'Float64', 'ok': 'boolean', " +
        "'host': 'object', 'ts': 'datetime64[ns]'} | 325 | [<NA>, <NA>, <NA>, 'null-row', NaT]",
    )
  })

  it('a plan with arguments, and a cursor in batches', async () => {
    await b.run(`CREATE FUNCTION batches(size int) RETURNS text LANGUAGE plpython3u AS $$
import plcolumns
p = plpy.prepare("SELECT a, b FROM pairs WHERE grp = $1 ORDER BY a, b", ["int4"])
one = plcolumns.execute(p, [3], kind="numpy")
sizes, total = [], 0.0
with plcolumns.cursor("SELECT a, grp FROM pairs WHERE a IS NOT NULL ORDER BY a", batch=size, kind="numpy") as cur:
    for batch in cur:
        sizes.append(len(batch["a"]))
        total += float(batch["a"].sum())
pc = plpy.prepare("SELECT a, b FROM pairs WHERE grp = $1 AND a IS NOT NULL ORDER BY a", ["int4"])
plan_batches = [(len(c["a"]), str(c["a"].dtype)) for c in plcolumns.cursor(pc, [3], batch=200, kind="numpy")]
return "%d %.6f | %s %d %.6f | %s" % (one.nrows, float(one["a"].sum()), sizes[-3:], len(sizes), total, plan_batches)
$$`)
    const [row] = await same('SELECT batches(1000)')
    const [check] = await same(
      "SELECT count(*) FILTER (WHERE grp = 3) AS n3, to_char(sum(a) FILTER (WHERE grp = 3), 'FM9999990.000000') AS s3, " +
        "to_char(sum(a), 'FM9999990.000000') AS s FROM pairs",
    )
    expect(row!.batches).toBe(
      `${check!.n3} ${check!.s3} | [1000, 1000, 1] 6 ${check!.s} | [(200, 'float64'), (200, 'float64'), (100, 'float64')]`,
    )
  })

  it('errors: duplicate column names, a command without rows, SQL errors as SPI exceptions', async () => {
    await b.run(`CREATE FUNCTION bad(q text) RETURNS text LANGUAGE plpython3u AS $$
import plcolumns
try:
    plcolumns.execute(q)
except plpy.SPIError as e:
    return "SPIError %s %s" % (e.sqlstate, e)
except ValueError as e:
    return "ValueError %s" % e
return "ok"
$$`)
    expect(await same("SELECT bad('SELECT 1 AS a, 2 AS a')")).toEqual([
      {
        bad: 'ValueError plcolumns: the query has more than one column named "a"; give its columns distinct names',
      },
    ])
    expect(await same("SELECT bad('CREATE TEMP TABLE x(i int)')")).toEqual([
      { bad: 'ValueError plcolumns.execute: the statement returned no rows (use plpy.execute for commands)' },
    ])
    expect(await same("SELECT bad('SELECT 1/0')")).toEqual([{ bad: 'SPIError 22012 division by zero' }])
    const e = await sameError('SELECT bad(NULL)')
    expect(e.message).toBe('TypeError: plcolumns.execute expected a query text or a plan, not NoneType')
  })
})

describe('columns into rows', () => {
  it('RETURNS TABLE from numpy arrays, a DataFrame and a structured array, matched by name', async () => {
    await b.run(`CREATE FUNCTION cpu_mem(how text) RETURNS TABLE(host text, load float8, n int4) LANGUAGE plpython3u AS $$
import plcolumns, numpy as np, pandas as pd
c = plcolumns.execute("SELECT host, cpu, mem, n FROM m WHERE n IS NOT NULL ORDER BY n", kind="numpy")
load = c["cpu"] * 2 + c["mem"] / 100
if how == "dict":
    return plcolumns.rows({"n": c["n"], "load": load, "host": c["host"]})
if how == "frame":
    return plcolumns.rows(pd.DataFrame({"load": load, "host": c["host"], "n": c["n"]}))
s = np.zeros(len(load), dtype=[("n", "i8"), ("host", "O"), ("load", "f8")])
s["n"], s["host"], s["load"] = c["n"], c["host"], load
return plcolumns.rows(s)
$$`)
    const expected = await same(
      'SELECT host, cpu * 2 + mem / 100 AS load, n FROM m WHERE n IS NOT NULL ORDER BY n',
    )
    expect(expected).toHaveLength(25)
    for (const how of ['dict', 'frame', 'struct'])
      expect(await same(`SELECT * FROM cpu_mem('${how}')`)).toEqual(expected)
  })

  it('SETOF a scalar, SETOF a composite type, NULLs from masks and None', async () => {
    await b.run(`CREATE TYPE pt AS (x int4, label text);
CREATE FUNCTION scal() RETURNS SETOF int8 LANGUAGE plpython3u AS $$
import plcolumns, numpy as np
return plcolumns.rows(np.arange(3, dtype=np.int64) * 10)
$$;
CREATE FUNCTION comp() RETURNS SETOF pt LANGUAGE plpython3u AS $$
import plcolumns, numpy as np
x = np.ma.MaskedArray([1, 2, 3], mask=[False, True, False])
return plcolumns.rows({"label": ["a", None, "c"], "x": x})
$$`)
    expect(await same('SELECT * FROM scal()')).toEqual([{ scal: '0' }, { scal: '10' }, { scal: '20' }])
    expect(await same('SELECT * FROM comp()')).toEqual([
      { x: 1, label: 'a' },
      { x: null, label: null },
      { x: 3, label: 'c' },
    ])
  })

  it('a generator body may yield the rows of several rows() calls and rows of its own', async () => {
    await b.run(`CREATE FUNCTION several() RETURNS TABLE(k int4, v float8) LANGUAGE plpython3u AS $$
import plcolumns, numpy as np
yield from plcolumns.rows({"k": np.array([1, 2], dtype=np.int32), "v": np.array([0.5, 1.5])})
yield (3, 2.5)
yield from plcolumns.rows({"k": [4], "v": [None]})
$$`)
    expect(await same('SELECT * FROM several()')).toEqual([
      { k: 1, v: 0.5 },
      { k: 2, v: 1.5 },
      { k: 3, v: 2.5 },
      { k: 4, v: null },
    ])
  })

  it('missing, extra and ragged columns are 42804; out-of-range values are the input function errors', async () => {
    await b.run(`CREATE FUNCTION shapes(how text) RETURNS TABLE(a int4, b text) LANGUAGE plpython3u AS $$
import plcolumns, numpy as np
if how == "missing":
    return plcolumns.rows({"a": [1]})
if how == "extra":
    return plcolumns.rows({"a": [1], "b": ["x"], "c": [2]})
if how == "ragged":
    return plcolumns.rows({"a": [1, 2], "b": ["x"]})
if how == "range":
    return plcolumns.rows({"a": np.array([1, 3000000000], dtype=np.int64), "b": ["x", "y"]})
return plcolumns.rows({"a": np.array([1.5, np.nan]), "b": ["x", "y"]})
$$`)
    const missing = await sameError("SELECT * FROM shapes('missing')")
    expect(missing).toMatchObject({
      code: '42804',
      message: "plpy.Error: plcolumns.rows: the columns returned do not match the function's result columns",
      detail: 'missing: b (result columns: a, b)',
    })
    const extra = await sameError("SELECT * FROM shapes('extra')")
    expect(extra).toMatchObject({ code: '42804', detail: 'not in the result: c (result columns: a, b)' })
    const ragged = await sameError("SELECT * FROM shapes('ragged')")
    expect(ragged).toMatchObject({
      code: '42804',
      message: 'plpy.Error: plcolumns.rows: the columns have different lengths',
      detail: 'a: 2, b: 1',
    })
    const range = await sameError("SELECT * FROM shapes('range')")
    expect(range).toMatchObject({
      code: '22003',
      message: 'value "3000000000" is out of range for type integer',
    })
    const syntax = await sameError("SELECT * FROM shapes('float')")
    expect(syntax).toMatchObject({ code: '22P02', message: 'invalid input syntax for type integer: "1.5"' })
  })
})

describe('a transform over a query', () => {
  it('add_columns reads any query in batches and yields column batches', async () => {
    await b.run(`CREATE FUNCTION add_columns(q text, size int DEFAULT 700) RETURNS TABLE(a float8, b float8, s float8) LANGUAGE plpython3u AS $$
import plcolumns
def add(c):
    return {"a": c["a"], "b": c["b"], "s": c["a"] + c["b"]}
return plcolumns.transform(q, add, batch=size, kind="numpy", nulls="nan")
$$`)
    const got = await same(
      "SELECT count(*) AS n, sum(s) AS s, count(*) FILTER (WHERE s = 'NaN') AS nans FROM add_columns('SELECT a, b FROM pairs')",
    )
    const want = await same('SELECT count(*) AS n, sum(a + b) AS s FROM pairs')
    expect(got[0]!.n).toBe(want[0]!.n)
    expect(got[0]!.nans).toBe('3')
    const sums = await same(
      "SELECT sum(s) FILTER (WHERE s <> 'NaN') AS s FROM add_columns('SELECT a, b FROM pairs')",
    )
    expect(Math.abs(Number(sums[0]!.s) - Number(want[0]!.s))).toBeLessThan(1e-6)
  })
})

describe('batch aggregates', () => {
  // state "array": array_append collects a group's values (no Python per row); "object": an int4 handle
  // of a live Python object whose buffer is processed every `batch` values
  it.each(['array', 'object'])(
    'mean and stddev over batches equal avg and stddev_samp, with GROUP BY and NULLs (state %s)',
    async (state) => {
      const name = `py_stats_${state}`
      await b.run(`DO $$
import plcolumns
plcolumns.create_aggregate("${name}", ["float8"], "float8[]", '''
import math
class Stats:
    def __init__(self):
        self.n, self.s, self.ss, self.calls = 0, 0.0, 0.0, 0
    def process(self, x):
        self.calls += 1
        self.n += len(x)
        self.s += float(x.sum())
        self.ss += float((x * x).sum())
    def merge(self, other):
        self.n += other.n; self.s += other.s; self.ss += other.ss; self.calls += other.calls
    def finalize(self):
        if self.n == 0:
            return None
        mean = self.s / self.n
        sd = math.sqrt((self.ss - self.n * mean * mean) / (self.n - 1)) if self.n > 1 else None
        return [mean, sd, self.calls]
''', "Stats", batch=128, kind="numpy", state="${state}")
$$ LANGUAGE plpython3u`)
      const got = await same(
        `SELECT grp, round((${name}(a))[1]::numeric, 9) AS mean, round((${name}(a))[2]::numeric, 9) AS sd, ` +
          `(${name}(a))[3] AS calls FROM pairs GROUP BY grp ORDER BY grp`,
      )
      const want = await same(
        'SELECT grp, round(avg(a)::numeric, 9) AS mean, round(stddev_samp(a)::numeric, 9) AS sd, count(a) AS n FROM pairs GROUP BY grp ORDER BY grp',
      )
      expect(got.map((r) => [r.grp, r.mean, r.sd])).toEqual(want.map((r) => [r.grp, r.mean, r.sd]))
      // process() ran once per batch of 128 values, not once per row
      expect(got.map((r) => r.calls)).toEqual(
        want.map((r) => (Number(r.n) ? Math.ceil(Number(r.n) / 128) : null)),
      )
      // no rows at all: NULL, as avg
      expect(await same(`SELECT ${name}(a) AS p, avg(a) AS a FROM pairs WHERE false`)).toEqual([
        { p: null, a: null },
      ])
      const window = `SELECT grp, round((${name}(a) OVER w)[1]::numeric, 9) AS mean, round(avg(a) OVER w::numeric, 9) AS avg
        FROM pairs WHERE grp IN (1, 2) WINDOW w AS (PARTITION BY grp ORDER BY b, a ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        ORDER BY grp, b, a LIMIT 400`
      if (state === 'array') {
        // the array state is only read by the final function: usable as a window aggregate
        const rows = await same(window)
        expect(rows).toHaveLength(400)
        expect(rows.every((r) => r.mean === r.avg)).toBe(true)
      } else {
        // the object state is consumed by its final function (FINALFUNC_MODIFY = READ_WRITE)
        const e = await sameError(window)
        expect(e.message).toBe(
          `aggregate function ${name}(double precision) does not support use as a window function`,
        )
      }
    },
  )
})

describe('pg_dump of batch aggregates', () => {
  it('the aggregates made in pyglite restore into PostgreSQL 15 and give the same results there', async () => {
    // what create_aggregate made (functions, aggregates) is plain SQL and plpython3u: a user's way out
    const dump = execFileSync(path.join(pg18Bin(), 'pg_dump'), ['-d', b.glite.url()], { encoding: 'utf8' })
    expect(dump).toContain('CREATE AGGREGATE public.py_stats_object(double precision)')
    await b.r.query('CREATE DATABASE aggs_from_pyglite')
    const refDb = b.ref.url.replace(/\/postgres$/, '/aggs_from_pyglite')
    const restored = spawnSync(
      '/usr/lib/postgresql/15/bin/psql',
      ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', refDb],
      {
        input: dump.replace(/^SET transaction_timeout = 0;\n/m, ''),
        encoding: 'utf8',
      },
    )
    expect([restored.status, restored.stderr]).toEqual([0, ''])
    const r = new pg.Client({ connectionString: refDb })
    await r.connect()
    try {
      await r.query(`DO $$ import sys; sys.path.insert(0, '${b.moduleDir}') $$ LANGUAGE plpython3u`)
      const q = `SELECT grp, round((py_stats_array(a))[1]::numeric, 9) AS a1, round((py_stats_object(a))[2]::numeric, 9) AS o2
        FROM pairs GROUP BY grp ORDER BY grp`
      const there = (await r.query(q)).rows
      expect(there).toHaveLength(11)
      expect(there).toEqual((await b.g.query(q)).rows)
    } finally {
      await r.end()
    }
  }, 120_000)
})

describe('the worked examples of docs/columns.md', () => {
  it('a Greptime-style function over cpu/mem columns and a pandas model scoring a table', async () => {
    await b.run(`CREATE TABLE system_metrics(host text, cpu float8, mem float8);
INSERT INTO system_metrics SELECT 'h' || (g % 4), g % 100, 50 + g % 50 FROM generate_series(1, 2000) g;
INSERT INTO system_metrics VALUES ('h9', NULL, 10);
CREATE TABLE customers(id int8, age int4, income float8, visits int4);
INSERT INTO customers SELECT g, 20 + g % 50, (g % 13) * 0.5, CASE WHEN g % 10 = 0 THEN NULL ELSE g % 7 END
  FROM generate_series(1, 3000) g;
CREATE FUNCTION cpu_mem_example() RETURNS TABLE(host text, cpu_mem float8) LANGUAGE plpython3u AS $$
import plcolumns
c = plcolumns.execute("SELECT host, cpu, mem FROM system_metrics", kind="numpy", nulls="nan")
return plcolumns.rows({"host": c["host"], "cpu_mem": c["cpu"] * c["mem"] / 100})
$$;
CREATE FUNCTION score(q text) RETURNS TABLE(id int8, score float8) LANGUAGE plpython3u AS $$
import numpy as np, pandas as pd, plcolumns
if "w" not in SD:
    SD["w"], SD["b"] = np.array([0.8, -0.3, 1.7]), -0.5
def predict(df):
    x = df[["age", "income", "visits"]].to_numpy(dtype=float, na_value=0.0)
    z = x @ SD["w"] + SD["b"]
    return pd.DataFrame({"id": df["id"], "score": 1 / (1 + np.exp(-z))})
return plcolumns.transform(q, predict, batch=1000, kind="pandas")
$$`)
    const cm = await same(
      "SELECT count(*) AS n, round((sum(cpu_mem) FILTER (WHERE cpu_mem <> 'NaN'))::numeric, 6) AS s, count(*) FILTER (WHERE cpu_mem = 'NaN') AS nan FROM cpu_mem_example()",
    )
    const cmWant = await same('SELECT round(sum(cpu * mem / 100)::numeric, 6) AS s FROM system_metrics')
    expect(cm).toEqual([{ n: '2001', s: cmWant[0]!.s, nan: '1' }])
    const got = await same(
      "SELECT count(*) AS n, round(sum(score)::numeric, 9) AS s FROM score('SELECT id, age, income, visits FROM customers')",
    )
    const want = await same(
      'SELECT count(*) AS n, round(sum(1 / (1 + exp(-(age * 0.8 - income * 0.3 + coalesce(visits, 0) * 1.7 - 0.5))))::numeric, 9) AS s FROM customers',
    )
    expect(got).toEqual(want)
  })
})

describe('without numpy', () => {
  it('the list forms work and the numpy forms raise a clear error', async () => {
    await b.run(`CREATE FUNCTION nonumpy(k text) RETURNS text LANGUAGE plpython3u AS $$
import sys, plcolumns
saved = {m: sys.modules[m] for m in list(sys.modules) if m == "numpy" or m.startswith("numpy.")}
for m in saved:
    del sys.modules[m]
sys.modules["numpy"] = None  # import numpy now raises ImportError
try:
    c = plcolumns.execute("SELECT n, cpu FROM m WHERE n <= 3 ORDER BY n", kind=k)
    return repr(dict(c))
except ImportError as e:
    return "ImportError: %s" % str(e).split(" (")[0]
finally:
    del sys.modules["numpy"]
    sys.modules.update(saved)
$$`)
    expect(await same("SELECT nonumpy('list')")).toEqual([
      { nonumpy: "{'n': [1, 2, 3], 'cpu': [0.5, 1.0, 1.5]}" },
    ])
    expect(await same("SELECT nonumpy('numpy')")).toEqual([
      {
        nonumpy:
          "ImportError: plcolumns: kind='numpy' and kind='pandas' need numpy, which cannot be imported here",
      },
    ])
  })
})
