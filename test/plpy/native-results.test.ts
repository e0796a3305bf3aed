// plpy.execute's C path (native/plpy/spiop.c): query texts and prepared plans with no or one int argument go to
// the engine in one call, and rows of common types become dicts in C. Every result here is compared with
// the same rows fetched through a cursor, which still goes through the codec (results.ts encodeResult), and
// with literal values: the two paths must not be told apart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'
import { type Client, connect, failure, pyValue } from './clients.js'

let srv: TestServer
let c: Client

beforeAll(async () => {
  srv = await startServer()
  c = await connect(srv)
  await c.query(`CREATE TABLE kinds (id int2, i4 int4, i8 int8, f4 float4, f8 float8, b bool, o oid,
    t text, vc varchar(10), bc char(5), by bytea)`)
  await c.query(`INSERT INTO kinds VALUES
    (1, -2147483648, 9007199254740993, 1.5, 0.1, true, 3000000000, 'héllo ☃', 'v', 'ab', '\\x00ff'),
    (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (-32768, 2147483647, -9223372036854775808, 'NaN', '-Infinity', false, 0, '', '', '', '')`)
  await c.query('CREATE TABLE big (id int, t text)')
  // one compressed inline value and one stored out of line (toasted): C leaves both to the codec
  await c.query(`INSERT INTO big VALUES (1, 'short'), (2, repeat('abc', 100000)),
    (3, (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 3000) i))`)
  await c.query('CREATE TABLE dropped (a int, b text, c int)')
  await c.query("INSERT INTO dropped VALUES (1, 'x', 3)")
  await c.query('ALTER TABLE dropped DROP COLUMN b')
})
afterAll(async () => {
  await c?.end()
  await srv?.stop()
})

/** Run a Python body in a function (returning text unless said) and give back its result. */
const py = (body: string, returns = 'text') => pyValue(c, body, returns)

/** Python that compares plpy.execute(q) with a cursor's fetch of q (the codec path) and returns both. */
const SAME = `
def same(q):
    a = [sorted((k, type(v).__name__, v) for k, v in r.items()) for r in plpy.execute(q)]
    b = [sorted((k, type(v).__name__, v) for k, v in r.items()) for r in plpy.cursor(q).fetch(1000000)]
    assert repr(a) == repr(b), (a, b)
    return a
`

describe('plpy.execute results converted in C', () => {
  it('converts every common type and NULL as the codec path does', async () => {
    const v = await py(`${SAME}
rows = same("SELECT * FROM kinds ORDER BY id DESC")
return repr(rows[1]) + '|' + repr(rows[2])`)
    expect(v).toBe(
      "[('b', 'bool', True), ('bc', 'str', 'ab   '), ('by', 'bytes', b'\\x00\\xff'), ('f4', 'float', 1.5), " +
        "('f8', 'float', 0.1), ('i4', 'int', -2147483648), ('i8', 'int', 9007199254740993), ('id', 'int', 1), " +
        "('o', 'int', 3000000000), ('t', 'str', 'héllo ☃'), ('vc', 'str', 'v')]|" +
        "[('b', 'bool', False), ('bc', 'str', '     '), ('by', 'bytes', b''), ('f4', 'float', nan), " +
        "('f8', 'float', -inf), ('i4', 'int', 2147483647), ('i8', 'int', -9223372036854775808), " +
        "('id', 'int', -32768), ('o', 'int', 0), ('t', 'str', ''), ('vc', 'str', '')]",
    )
    expect(await py(`${SAME}\nreturn repr(same("SELECT * FROM kinds WHERE id = 2")[0])`)).toBe(
      "[('b', 'NoneType', None), ('bc', 'NoneType', None), ('by', 'NoneType', None), ('f4', 'NoneType', None), " +
        "('f8', 'NoneType', None), ('i4', 'NoneType', None), ('i8', 'NoneType', None), ('id', 'int', 2), " +
        "('o', 'NoneType', None), ('t', 'NoneType', None), ('vc', 'NoneType', None)]",
    )
  })

  it('gives the result object its metadata, order of keys and methods', async () => {
    const v = await py(`
r = plpy.execute("SELECT 1 AS b, 'x' AS a, 2 AS b")
e = plpy.execute("SELECT 1 AS z WHERE false")
return repr((type(r).__name__, list(r[0].items()), r.nrows(), r.status(), r.colnames(), r.coltypes(),
             len(e), e.nrows(), e.colnames(), str(plpy.execute("SELECT 7 AS q"))))`)
    // keys in column order, a repeated name keeps its last value (a dict, as PLy_input_from_tuple builds)
    expect(v).toBe(
      "('PLyResult', [('b', 2), ('a', 'x')], 1, 5, ['b', 'a', 'b'], [23, 25, 23], 0, 0, ['z'], " +
        '"<PLyResult status=5 nrows=1 rows=[{\'q\': 7}]>")',
    )
    expect(await py(`return repr(list(plpy.execute("SELECT * FROM dropped")[0].items()))`)).toBe(
      "[('a', 1), ('c', 3)]",
    )
  })

  it('converts results larger than one chunk of deformed rows', async () => {
    const v = await py(`
r = plpy.execute("SELECT i, i::text AS t, i % 7 = 0 AS b FROM generate_series(1, 20000) i")
return repr((len(r), r.nrows(), sum(x['i'] for x in r), r[8191], r[8192], r[19999], sum(1 for x in r if x['b'])))`)
    expect(v).toBe(
      "(20000, 20000, 200010000, {'i': 8192, 't': '8192', 'b': False}, {'i': 8193, 't': '8193', 'b': False}, " +
        "{'i': 20000, 't': '20000', 'b': False}, 2857)",
    )
  })

  it('leaves compressed and out-of-line values to the codec, with the same result', async () => {
    const v = await py(`${SAME}
rows = plpy.execute("SELECT id, t FROM big ORDER BY id")
same("SELECT id, t FROM big ORDER BY id")
one = plpy.execute("SELECT t FROM big WHERE id = 3")[0]['t']
return repr((len(rows), [len(r['t']) for r in rows], rows[1]['t'][:7], one[:32], len(one)))`)
    const md5 = (await c.query("SELECT md5('1') AS m")).rows[0].m
    expect(v).toBe(`(3, [5, 300000, 96000], 'abcabca', '${md5}', 96000)`)
  })

  it('reports commands without a result set like PL/Python', async () => {
    const v = await py(`
plpy.execute("CREATE TEMP TABLE dml (a int)")
r = plpy.execute("INSERT INTO dml SELECT generate_series(1, 3)")
u = plpy.execute("UPDATE dml SET a = a * 10 WHERE a > 1 RETURNING a")
try:
    r.colnames()
    err = None
except plpy.Error as e:
    err = str(e)
return repr((r.status(), r.nrows(), len(r), list(r), err, u.status(), u.nrows(), sorted(x['a'] for x in u)))`)
    expect(v).toBe("(7, 3, 0, [], 'command did not produce a result set', 13, 2, [20, 30])")
  })

  it('runs prepared plans with no argument, one int argument, and the forms left to Python', async () => {
    const v = await py(`
p0 = plpy.prepare("SELECT count(*) AS n FROM kinds")
p1 = plpy.prepare("SELECT $1 * 2 AS d, $1::text AS t", ["int8"])
s = plpy.prepare("SELECT $1 || '!' AS s", ["text"])
g = plpy.prepare("SELECT i FROM generate_series(1, $1) i", ["int4"])
out = [plpy.execute(p0)[0]['n'], plpy.execute(p0, [])[0]['n'], plpy.execute(p1, [21])[0],
       plpy.execute(p1, (-4,))[0], plpy.execute(p1, [2**40])[0], plpy.execute(p1, [None])[0],
       plpy.execute(s, ['a'])[0], len(plpy.execute(g, [10], 3)), len(plpy.execute(g, [10], True)),
       len(plpy.execute(g, [10], 2**40)), len(plpy.execute("SELECT * FROM generate_series(1, 9)", 4))]
return repr(out)`)
    expect(v).toBe(
      "[3, 3, {'d': 42, 't': '21'}, {'d': -8, 't': '-4'}, {'d': 2199023255552, 't': '1099511627776'}, " +
        "{'d': None, 't': None}, {'s': 'a!'}, 3, 1, 10, 4]",
    )
    const e = await failure(
      c,
      `DO $$\np = plpy.prepare("SELECT $1 AS a", ["int"])\nplpy.execute(p, [1], limit=2)\n$$ LANGUAGE plpython3u`,
    )
    expect(e.message).toBe('TypeError: execute() takes no keyword arguments')
    const n = await failure(
      c,
      `DO $$\nplpy.execute(plpy.prepare("SELECT $1 AS a", ["int"]), [1, 2])\n$$ LANGUAGE plpython3u`,
    )
    expect(n.message).toBe('TypeError: Expected sequence of 1 argument, got 2: [1, 2]')
  })

  it('plan.execute / plan.cursor (the method forms the docs show) take the same path, with the same errors', async () => {
    const v = await py(`
p1 = plpy.prepare("SELECT $1 * 2 AS d, $1::text AS t", ["int8"])
g = plpy.prepare("SELECT i FROM generate_series(1, $1) i", ["int4"])
two = plpy.prepare("SELECT $1 || $2 AS s", ["text", "text"])
forms = [(p1, ([21],)), (p1, ((-4,),)), (p1, ([None],)), (g, ([10], 3)), (g, ([10], 0)), (two, (['a', 'b'],))]
def seen(r):
    return (r.status(), r.nrows(), r.colnames(), [dict(x) for x in r])
same = [seen(plpy.execute(p, *a)) == seen(p.execute(*a)) for p, a in forms]
errs = []
for call in (lambda: g.execute([1], limit=2), lambda: g.execute([1], 2, 3), lambda: g.cursor([1], 2),
             lambda: g.cursor([1], x=1), lambda: g.execute([1, 2])):
    try:
        call()
    except Exception as e:
        errs.append(repr(e))
return repr([same, [r['i'] for r in g.cursor([3])], errs])`)
    // the errors as PostgreSQL 15's PL/Python words them
    expect(v).toBe(
      '[[True, True, True, True, True, True], [1, 2, 3], ' +
        '["TypeError(\'PLyPlan.execute() takes no keyword arguments\')", ' +
        '"TypeError(\'function takes at most 2 arguments (3 given)\')", ' +
        '"TypeError(\'function takes at most 1 argument (2 given)\')", ' +
        '"TypeError(\'PLyPlan.cursor() takes no keyword arguments\')", ' +
        '"TypeError(\'Expected sequence of 1 argument, got 2: [1, 2]\')"]]',
    )
  })

  it('raises engine errors as the SPI exception of their SQLSTATE', async () => {
    const v = await py(`
p = plpy.prepare("SELECT 10 / $1 AS q", ["int"])
out = [plpy.execute(p, [5])[0]['q']]
try:
    plpy.execute(p, [0])
except plpy.spiexceptions.DivisionByZero as e:
    out.append((type(e).__name__, str(e), e.sqlstate, e.__cause__, e.__suppress_context__))
try:
    plpy.execute("SELECT * FROM no_such_table")
except plpy.SPIError as e:
    out.append((type(e).__name__, e.sqlstate, str(e)))
out.append(plpy.execute(p, [2])[0]['q'])
return repr(out)`)
    expect(v).toBe(
      "[2, ('DivisionByZero', 'division by zero', '22012', None, True), " +
        "('UndefinedTable', '42P01', 'relation \"no_such_table\" does not exist'), 5]",
    )
    const e = await failure(
      c,
      `DO $$ plpy.execute(plpy.prepare("SELECT 1 / $1", ["int"]), [0]) $$ LANGUAGE plpython3u`,
    )
    expect(e.code).toBe('22012')
    expect(e.message).toBe('spiexceptions.DivisionByZero: division by zero')
    expect(e.where).toMatch(/PL\/Python anonymous code block, line 1, in <module>/)
  })

  it('serves nested executions from a function called by the query', async () => {
    await c.query(`CREATE FUNCTION twice(i int) RETURNS int LANGUAGE plpython3u AS $$
p = SD.get('p') or SD.setdefault('p', plpy.prepare("SELECT $1 * 2 AS d", ["int"]))
return plpy.execute(p, [i])[0]['d'] + plpy.execute("SELECT 0 AS z")[0]['z']
$$`)
    const v = await py(`
p = plpy.prepare("SELECT twice(i) AS t, i FROM generate_series(1, $1) i", ["int"])
return repr([list(plpy.execute(p, [3])), list(plpy.execute("SELECT twice(5) AS t"))])`)
    expect(v).toBe("[[{'t': 2, 'i': 1}, {'t': 4, 'i': 2}, {'t': 6, 'i': 3}], [{'t': 10}]]")
  })
})
