// numpy_plpython3u (docs/columns.md): the same SQL on pyglite and on PostgreSQL 15 + plpython3u with the
// extension's C twin (extensions/numpy_plpython3u, installed by scripts/build-pg15-extensions.sh). In pyglite
// a function that names an element type in TRANSFORM FOR TYPE gets arrays of it as numpy arrays built from
// the packed bytes (every dtype, shapes, NULL -> masked) and returns numpy arrays laid out in one piece,
// with PostgreSQL's errors; on PostgreSQL, whose PL/Python never applies a transform to an array, the same
// functions are accepted and get PL/Python's lists. Results that do not depend on that agree on both.
import { execFileSync, spawnSync } from 'node:child_process'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pg18Bin } from '../helpers/reference.js'
import { type Both, type Outcome, rowsOf, startBoth } from './both.js'

let b: Both
beforeAll(async () => {
  b = await startBoth()
  // a reference without the twin is a failure, not a skip (CI installs it before the tests)
  const avail = await b.r.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'numpy_plpython3u'`)
  if (avail.rowCount !== 1)
    throw new Error(
      'the reference PostgreSQL 15 lacks numpy_plpython3u: run scripts/build-pg15-extensions.sh',
    )
  await b.run(`CREATE EXTENSION numpy_plpython3u`)
}, 600_000)
afterAll(async () => {
  await b?.stop()
})

/** Both servers must succeed; pyglite's rows are returned. */
async function both(sql: string): Promise<[Record<string, unknown>[], Record<string, unknown>[]]> {
  const [g, r] = await b.run(sql)
  return [rowsOf(g), rowsOf(r)]
}

function errorOf(o: Outcome) {
  if (!('error' in o)) throw new Error(`expected an error, got ${JSON.stringify(o)}`)
  return o.error
}

const ALL = `a int2[], b int4[], c int8[], d float4[], e float8[], f bool[], g oid[]`
const TRF = `TRANSFORM FOR TYPE int2[], FOR TYPE int4[], FOR TYPE int8[], FOR TYPE float4[], FOR TYPE float8[], FOR TYPE bool[], FOR TYPE oid[]`

describe('arguments', () => {
  it('every dtype arrives as a numpy array in pyglite, as a list on PostgreSQL', async () => {
    await b.run(`CREATE FUNCTION kinds(${ALL}, s float8) RETURNS text ${TRF} LANGUAGE plpython3u AS $$
return " ".join("%s:%s:%s:%s" % (type(x).__name__, getattr(x, "dtype", "-"), getattr(x, "shape", "-"),
                                 x.tolist() if hasattr(x, "tolist") else x) for x in args[:7]) + " %r" % (s,)
$$`)
    const sql = `SELECT kinds('{1,-2}', '{2147483647}', '{9007199254740993}', '{1.5}', '{2.25,-0}', '{t,f}', '{4294967295}', 0.5)`
    const [[g], [r]] = await both(sql)
    expect(g!.kinds).toBe(
      'ndarray:int16:(2,):[1, -2] ndarray:int32:(1,):[2147483647] ndarray:int64:(1,):[9007199254740993] ' +
        'ndarray:float32:(1,):[1.5] ndarray:float64:(2,):[2.25, -0.0] ndarray:bool:(2,):[True, False] ' +
        'ndarray:uint32:(1,):[4294967295] 0.5',
    )
    expect(r!.kinds).toBe(
      'list:-:-:[1, -2] list:-:-:[2147483647] list:-:-:[9007199254740993] list:-:-:[1.5] list:-:-:[2.25, -0.0] ' +
        'list:-:-:[True, False] list:-:-:[4294967295] 0.5',
    )
  })

  it('multi-dimensional arrays keep their shape (lower bounds dropped); an empty array has shape (0,)', async () => {
    await b.run(`CREATE FUNCTION shape(a int4[]) RETURNS text TRANSFORM FOR TYPE int4[] LANGUAGE plpython3u AS $$
import numpy
x = numpy.asarray(a)
return "%s %s %s" % (x.shape, x.tolist(), int(x.sum()))
$$`)
    const [g, r] = await both(
      `SELECT shape('{{1,2,3},{4,5,6}}') AS m, shape('[5:6]={7,8}') AS l, shape('{{{1},{2}}}') AS t, shape('{}') AS e`,
    )
    expect(g).toEqual(r)
    expect(g[0]).toEqual({
      m: '(2, 3) [[1, 2, 3], [4, 5, 6]] 21',
      l: '(2,) [7, 8] 15',
      t: '(1, 2, 1) [[[1], [2]]] 3',
      e: '(0,) [] 0',
    })
    const [[d]] =
      await both(`CREATE OR REPLACE FUNCTION shape(a int4[]) RETURNS text TRANSFORM FOR TYPE int4[] LANGUAGE plpython3u AS $$
return "%s %s" % (type(a).__name__, getattr(a, "dtype", "-"))
$$; SELECT shape('{}') AS e`)
    expect(d!.e).toBe('ndarray int32')
  })

  it('NULL elements are masked, never 0', async () => {
    await b.run(`CREATE FUNCTION masked(a float8[], i int8[]) RETURNS text TRANSFORM FOR TYPE float8[], FOR TYPE int8[] LANGUAGE plpython3u AS $$
return "%s %s %s %s %s" % (type(a).__name__, a.mask.tolist(), a.mean(), a.count(), i.mask.tolist())
$$`)
    const [g] = await b.run(
      `SELECT masked('{{1,NULL},{NULL,5}}', '{NULL,NULL,7,NULL,NULL,NULL,NULL,NULL,9}')`,
    )
    expect(rowsOf(g)[0]!.masked).toBe(
      'MaskedArray [[False, True], [True, False]] 3.0 2 [True, True, False, True, True, True, True, True, False]',
    )
  })

  it('query results inside such a function too (plpy.execute, as with jsonb_plpython3u)', async () => {
    await b.run(`CREATE FUNCTION q() RETURNS text TRANSFORM FOR TYPE float8[] LANGUAGE plpython3u AS $$
r = plpy.execute("SELECT '{{1.5,2},{3,NULL}}'::float8[] AS a, '{1}'::int4[] AS b")[0]
return "%s %s %s" % (type(r["a"]).__name__, r["a"].tolist() if hasattr(r["a"], "tolist") else r["a"], type(r["b"]).__name__)
$$`)
    const [[g], [r]] = await both('SELECT q()')
    expect(g!.q).toBe('MaskedArray [[1.5, 2.0], [3.0, None]] list')
    expect(r!.q).toBe('list [[1.5, 2.0], [3.0, None]] list')
  })

  it('the elements come from one buffer: no Python object per element', async () => {
    // frombuffer over (a memoryview of) one bytearray of exactly n * 8 bytes; a list-built array has no base
    await b.run(`CREATE FUNCTION onebuf(a float8[]) RETURNS text TRANSFORM FOR TYPE float8[] LANGUAGE plpython3u AS $$
return "%s %s %d %s %s" % (type(a.base).__name__, type(a.base.obj).__name__, a.base.nbytes, a.flags.writeable, a.sum())
$$`)
    const [g] = await b.run(`SELECT onebuf(array_agg(g::float8)) FROM generate_series(1, 1000000) g`)
    expect(rowsOf(g)[0]!.onebuf).toBe('memoryview bytearray 8000000 True 500000500000.0')
  })

  it('without numpy the transform raises a clear ImportError', async () => {
    await b.g.query(
      `DO $$ import sys; GD["np"] = sys.modules.pop("numpy", None); sys.modules["numpy"] = None $$ LANGUAGE plpython3u`,
    )
    const e = await b.g.query(`SELECT onebuf('{1}')`).catch((x) => x)
    await b.g.query(`DO $$ import sys; sys.modules["numpy"] = GD["np"] $$ LANGUAGE plpython3u`)
    expect([e.code, e.message, e.where]).toEqual([
      '38000',
      'ImportError: the numpy_plpython3u transform needs numpy: import of numpy halted; None in sys.modules',
      'PL/Python function "onebuf"',
    ])
  })
})

describe('results', () => {
  it('numpy arrays of every dtype become arrays, shape kept, the same on both servers', async () => {
    await b.run(`CREATE FUNCTION twice(${ALL}) RETURNS text ${TRF} LANGUAGE plpython3u AS $$
import numpy
plan = plpy.prepare("SELECT $1::text || $2::text || $3::text || $4::text || $5::text || $6::text || $7::text AS t",
                    ["int2[]", "int4[]", "int8[]", "float4[]", "float8[]", "bool[]", "oid[]"])
return plan.execute([numpy.asarray(a) * 2, numpy.asarray(b) * 2, numpy.asarray(c) * 2, numpy.asarray(d) * 2,
                     numpy.asarray(e) * 2, ~numpy.asarray(f), numpy.asarray(g, dtype=numpy.uint32) // 2])[0]["t"]
$$;
    CREATE FUNCTION f8(n int) RETURNS float8[] TRANSFORM FOR TYPE float8[] LANGUAGE plpython3u AS $$
import numpy
return numpy.arange(n * 6, dtype=float).reshape(n, 2, 3) / 4
$$`)
    const [g, r] = await both(
      `SELECT twice('{1,-2}', '{3,4}', '{5000000000}', '{1.5}', '{0.1}', '{t,f}', '{8}') AS t, f8(0) AS e`,
    )
    expect(g).toEqual(r)
    expect(g[0]).toEqual({ t: '{2,-4}{6,8}{10000000000}{3}{0.2}{f,t}{4}', e: [] })
    // a multi-dimensional ndarray keeps its shape in pyglite (PostgreSQL 15's PL/Python descends only
    // into nested lists: there it would have to be .tolist())
    const [a] = await b.run(`SELECT f8(1) AS a, f8(2)::text AS t`)
    expect(rowsOf(a)[0]).toEqual({
      a: [
        [
          [0, 0.25, 0.5],
          [0.75, 1, 1.25],
        ],
      ],
      t: '{{{0,0.25,0.5},{0.75,1,1.25}},{{1.5,1.75,2},{2.25,2.5,2.75}}}',
    })
  })

  it('a set-returning function yields numpy arrays as rows', async () => {
    await b.run(`CREATE FUNCTION series(n int) RETURNS SETOF int8[] TRANSFORM FOR TYPE int8[] LANGUAGE plpython3u AS $$
import numpy
for k in range(n):
    yield numpy.arange(k, dtype=numpy.int64) * 10**10
$$`)
    const [g, r] = await both(`SELECT s::text FROM series(3) s`)
    expect(g).toEqual(r)
    expect(g.map((x) => x.s)).toEqual(['{}', '{0}', '{0,10000000000}'])
  })

  it('masked elements become NULLs; lists with None too', async () => {
    await b.run(`CREATE FUNCTION ret(t text) RETURNS int4[] TRANSFORM FOR TYPE int4[] LANGUAGE plpython3u AS $$
import numpy as np
return eval(t)
$$`)
    const [g] =
      await b.run(`SELECT ret('np.ma.MaskedArray([[1, 2], [3, 4]], mask=[[0, 1], [1, 0]])')::text AS m,
      ret('[1, None, 3]')::text AS l, ret('np.array([], dtype=np.int64)')::text AS e`)
    expect(rowsOf(g)[0]).toEqual({ m: '{{1,NULL},{NULL,4}}', l: '{1,NULL,3}', e: '{}' })
  })

  it('out of range, non-numeric, ragged and not a sequence: the errors PostgreSQL gives', async () => {
    for (const [expr, code, message] of [
      ['np.array([1, 3000000000])', '22003', 'value "3000000000" is out of range for type integer'],
      [
        '[[1, 2], [3]]',
        '22P02',
        'multidimensional arrays must have array expressions with matching dimensions',
      ],
      ['5', '42804', 'return value of function with array return type is not a Python sequence'],
    ]) {
      const [g, r] = await b.run(`SELECT ret('${expr}')`)
      expect(errorOf(g)).toEqual(errorOf(r))
      expect([errorOf(g).code, errorOf(g).message, errorOf(g).where]).toEqual([
        code,
        message,
        'while creating return value\nPL/Python function "ret"',
      ])
    }
    // pyglite converts numpy's whole array: a str is refused as PL/Python's input function refuses it,
    // a non-finite or fractional float is not an integer
    for (const [expr, code, message] of [
      ['["a"]', '22P02', 'invalid input syntax for type integer: "a"'],
      ['np.array([1.0, float("nan")])', '22003', 'value "nan" is out of range for type integer'],
      ['np.array([2.5])', '22P02', 'invalid input syntax for type integer: "2.5"'],
      [
        'np.array([2**40], dtype=np.int64)',
        '22003',
        'value "1099511627776" is out of range for type integer',
      ],
    ]) {
      const e = errorOf((await b.run(`SELECT ret('${expr}')`))[0])
      expect([e.code, e.message, e.where]).toEqual([
        code,
        message,
        'while creating return value\nPL/Python function "ret"',
      ])
    }
  })
})

describe('with plcolumns', () => {
  it('a weight vector argument against a query column, the same on both servers', async () => {
    await b.run(`CREATE TABLE pts(x float8); INSERT INTO pts SELECT g FROM generate_series(1, 4) g;
      CREATE FUNCTION score(w float8[]) RETURNS float8 TRANSFORM FOR TYPE float8[] LANGUAGE plpython3u AS $$
import numpy, plcolumns
c = plcolumns.execute("SELECT x FROM pts ORDER BY x", kind="numpy")
return float(numpy.dot(numpy.asarray(w), c["x"]))
$$`)
    const [g, r] = await both(`SELECT score('{1,0,0.5,2}')`)
    expect(g).toEqual(r)
    expect(g[0]!.score).toBe(10.5)
  })
})

describe('portable code', () => {
  it('plcolumns.ndarray gives the same arrays on both servers, NULLs masked', async () => {
    await b.run(`CREATE FUNCTION port(a float8[], i int2[]) RETURNS text TRANSFORM FOR TYPE float8[], FOR TYPE int2[] LANGUAGE plpython3u AS $$
import plcolumns
x, y = plcolumns.ndarray(a, "float8"), plcolumns.ndarray(i, "int2")
return "%s %s %s %s %s %s" % (type(x).__name__, x.dtype, x.shape, x.mean(), y.dtype, y.tolist())
$$`)
    const [g, r] = await both(`SELECT port('{{1,NULL},{3,5}}', '{7,8}') AS a, port('{}', '{}') AS e`)
    expect(g).toEqual(r)
    expect(g[0]).toEqual({
      a: 'MaskedArray float64 (2, 2) 3.0 int16 [7, 8]',
      e: 'ndarray float64 (0,) nan int16 []',
    })
  })
})

describe('pg_dump', () => {
  const PG15 = '/usr/lib/postgresql/15/bin'
  const psql = (url: string, input: string) =>
    spawnSync(`${PG15}/psql`, ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', url], {
      input,
      encoding: 'utf8',
    })

  it('functions with TRANSFORM FOR TYPE float8[] go from pyglite to PostgreSQL 15 and back', async () => {
    const dump = execFileSync(path.join(pg18Bin(), 'pg_dump'), ['-d', b.glite.url()], { encoding: 'utf8' })
    expect(dump).toContain('CREATE EXTENSION IF NOT EXISTS numpy_plpython3u WITH SCHEMA public;')
    expect(dump).toContain('RETURNS integer[]\n    LANGUAGE plpython3u TRANSFORM FOR TYPE integer\n')
    await b.r.query('CREATE DATABASE np_from_pyglite')
    const refDb = b.ref.url.replace(/\/postgres$/, '/np_from_pyglite')
    const r = psql(refDb, dump.replace(/^SET transaction_timeout = 0;\n/m, ''))
    expect([r.status, r.stderr]).toEqual([0, ''])
    expect(psql(refDb, `SELECT ret('[1, None, 3]'), f8(0)`).stdout).toBe('{1,NULL,3}|{}\n')
    // and back: PostgreSQL 15's dump of it into a new pyglite database, where the arrays are numpy's again
    const back = execFileSync(`${PG15}/pg_dump`, ['-d', refDb], { encoding: 'utf8' })
    await b.g.query('CREATE DATABASE np_from15')
    const g = psql(b.glite.url('np_from15'), back)
    expect([g.status, g.stderr]).toEqual([0, ''])
    expect(
      psql(
        b.glite.url('np_from15'),
        `SELECT masked('{1,NULL}', '{2,NULL}'), ret('np.ma.masked_equal([1, 2], 2)')`,
      ).stdout,
    ).toBe('MaskedArray [False, True] 1.0 1 [False, True]|{1,NULL}\n')
  }, 300_000)
})
