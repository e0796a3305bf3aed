// Plans that are simple expressions (plpy-shim/simple.ts, PL/pgSQL's simple-expression path) against
// the real server: each case runs the same statement once as a simple expression and once with a
// one-row table in it (which always goes through SPI_execute_plan), and the two must agree on values,
// types, column names, status, errors (message, SQLSTATE, CONTEXT), invalidation and transactions.
// The literal expectations were checked on PostgreSQL 15 + plpython3u (every test but the last, which
// looks at pyglite's own memory contexts, passes there unchanged when pointed at it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'
import { type Client, connect, failure, pyValue } from './clients.js'

let srv: TestServer
let c: Client

beforeAll(async () => {
  srv = await startServer()
  c = await connect(srv)
  // `one` turns any simple SELECT into one that SPI must execute, with the same single row
  await c.query('CREATE TABLE one (k int PRIMARY KEY)')
  await c.query('INSERT INTO one VALUES (1)')
  await c.query('CREATE TABLE log (v int)')
})
afterAll(async () => {
  await c?.end()
  await srv?.stop()
})

/** a counter for the names of the functions the tests create themselves */
let n = 0
/** Create a plpython3u function with `body` and return the result of calling it. */
const py = (body: string, returns = 'text', opts = '') => pyValue(c, body, returns, opts)

/**
 * The Python expression `expr` computed from plan `p` (prepared from `q` with `types`) run with `args`,
 * for the simple statement and for the same statement with FROM one: both results side by side.
 */
async function both(q: string, types: string[], args: string, expr: string): Promise<[unknown, unknown]> {
  const withTable = q.includes(' WHERE ') ? q : `${q} FROM one`
  const body = (sql: string) => `
p = plpy.prepare(${JSON.stringify(sql)}, ${JSON.stringify(types)})
out = []
for i in range(3):
    r = plpy.execute(p, ${args})
    out.append(${expr})
return repr(out)`
  return [await py(body(q)), await py(body(withTable))]
}

const ROW =
  '(r.status(), r.nrows(), len(r), r.colnames(), r.coltypes(), r.coltypmods(), [sorted(x.items()) for x in r])'

describe('values, types and names', () => {
  it('gives what SPI_execute_plan gives, for one and for several columns', async () => {
    const [s, t] = await both('SELECT $1::int AS x', ['int'], '[7]', ROW)
    expect(s).toBe(t)
    expect(s).toContain("(5, 1, 1, ['x'], [23], [-1], [[('x', 7)]])")
    const cases: Array<[string, string[], string]> = [
      [
        "SELECT $1 + 1, $2 || '!' AS t, $3::numeric(5,2) AS n, NULL::int AS z",
        ['int', 'text', 'float8'],
        '[41, "a", 1.005]',
      ],
      [
        'SELECT $1::varchar(3) AS v, $2::bytea AS b, $3 AS f',
        ['text', 'text', 'float8'],
        '["abc", "\\\\x0102", None]',
      ],
      ["SELECT ARRAY[$1, 2] AS a, ROW($1, 'x') AS r, '{\"k\": 1}'::jsonb AS j", ['int'], '[5]'],
      ['SELECT $1::bool, $1::text, (2::int8 ^ 62)::int8 AS big, 0.1::float4 AS f4', ['bool'], '[True]'],
      ["SELECT now() = now() AS same, 'x'::name AS nm, 'abc'::char(5) AS c5", [], '[]'],
    ]
    for (const [q, types, args] of cases) {
      const [a, b] = await both(q, types, args, ROW)
      expect(a).toBe(b)
    }
  })

  it('plpy.execute of a query text with no arguments, and limits', async () => {
    const body = (q: string, limit: string) => `
out = []
for i in range(3):
    r = plpy.execute(${JSON.stringify(q)}${limit})
    out.append(${ROW})
return repr(out)`
    for (const limit of ['', ', 0', ', 1', ', 5']) {
      const s = await py(body("SELECT 1 AS a, 'x' AS b", limit))
      expect(s).toBe(await py(body("SELECT 1 AS a, 'x' AS b FROM one", limit)))
      expect(s).toContain("(5, 1, 1, ['a', 'b'], [23, 25], [-1, -1], [[('a', 1), ('b', 'x')]])")
    }
    // a negative limit is SPI's SPI_ERROR_ARGUMENT either way
    const neg = (q: string) =>
      py(`
p = plpy.prepare(${JSON.stringify(q)}, [])
try:
    plpy.execute(p, [], -1)
except plpy.SPIError as e:
    return str(e)`)
    expect(await neg('SELECT 1')).toBe(await neg('SELECT 1 FROM one'))
    expect(await neg('SELECT 1')).toContain('SPI_ERROR_ARGUMENT')
  })
})

/** The error an expression raises, caught in Python: (class, sqlstate, message, detail). */
const CAUGHT = `
try:
    plpy.execute(p, ARGS)
except plpy.SPIError as e:
    return repr((type(e).__name__, getattr(e, 'sqlstate', None), str(e), e.spidata))
return 'no error'`

describe('errors', () => {
  it('are the same SPI exceptions, caught in Python', async () => {
    await c.query(`CREATE FUNCTION boom(i int) RETURNS int LANGUAGE plpython3u AS $$
if i > 0:
    plpy.error('boom %d' % i, detail='d', sqlstate='P0009')
return i $$`)
    const cases: Array<[string, string[], string]> = [
      ['SELECT 1 / $1 AS q', ['int'], '[0]'],
      ["SELECT ('1' || $1)::int AS q", ['text'], '["x"]'],
      ['SELECT boom($1) AS q', ['int'], '[3]'],
      ['SELECT $1::int2 * 100::int2 AS q', ['int'], '[1000]'],
    ]
    for (const [q, types, args] of cases) {
      const run = (sql: string) =>
        py(
          `p = plpy.prepare(${JSON.stringify(sql)}, ${JSON.stringify(types)})\n${CAUGHT.replace('ARGS', args)}`,
        )
      // twice: a failed evaluation leaves its entry to SPI for the rest of the transaction
      const simple = await run(q)
      expect(simple).not.toBe('no error')
      expect(simple).toBe(await run(`${q} FROM one`))
    }
  })

  it('reach the client with the same message, SQLSTATE and CONTEXT when uncaught', async () => {
    const fail = async (q: string) => {
      const name = `e_${n++}`
      await c.query(`CREATE FUNCTION ${name}(i int) RETURNS int LANGUAGE plpython3u AS $py$
p = plpy.prepare(${JSON.stringify(q)}, ['int'])
return plpy.execute(p, [i])[0]['q'] $py$`)
      expect((await c.query(`SELECT ${name}(1) AS v`)).rows[0].v).toBe(1)
      return failure(c, `SELECT ${name}(0) AS v`)
    }
    const a = await fail('SELECT 1 / $1 AS q')
    const b = await fail('SELECT 1 / $1 AS q FROM one')
    expect([a.message, a.code]).toEqual(['spiexceptions.DivisionByZero: division by zero', '22012'])
    expect([b.message, b.code]).toEqual([a.message, a.code])
    expect(a.where?.replace(/e_\d+/g, 'F')).toBe(b.where?.replace(/e_\d+/g, 'F').replace(' FROM one', ''))
  })
})

describe('snapshots and writes', () => {
  it('a volatile or stable function in the expression sees earlier writes of the same function', async () => {
    await c.query(
      `CREATE FUNCTION log_count() RETURNS bigint LANGUAGE sql VOLATILE AS 'SELECT count(*) FROM log'`,
    )
    await c.query(
      `CREATE FUNCTION log_count_s() RETURNS bigint LANGUAGE sql STABLE AS 'SELECT count(*) FROM log'`,
    )
    const run = (from: string) =>
      py(`
p = plpy.prepare("SELECT log_count() AS a, log_count_s() AS b${from}", [])
out = []
for i in range(3):
    plpy.execute("INSERT INTO log VALUES (%d)" % i)
    r = plpy.execute(p)
    out.append((r[0]['a'], r[0]['b']))
plpy.execute("DELETE FROM log")
return repr(out)`)
    const simple = await run('')
    expect(simple).toBe('[(1, 1), (2, 2), (3, 3)]')
    expect(simple).toBe(await run(' FROM one'))
  })

  it('in a read-only (stable) function the expression runs with the caller’s snapshot, as with SPI', async () => {
    await c.query('INSERT INTO log VALUES (100)')
    const run = async (from: string) => {
      const name = `ro_${n++}`
      await c.query(`CREATE FUNCTION ${name}() RETURNS text LANGUAGE plpython3u STABLE AS $py$
p = plpy.prepare("SELECT log_count() AS a${from}", [])
return repr([plpy.execute(p)[0]['a'] for i in range(2)]) $py$`)
      return (await c.query(`SELECT ${name}() AS v`)).rows[0].v
    }
    expect(await run('')).toBe('[1, 1]')
    expect(await run('')).toBe(await run(' FROM one'))
    await c.query('DELETE FROM log')
  })
})

describe('invalidation', () => {
  it('CREATE OR REPLACE, ALTER and DROP of a function in the expression replan or fail like SPI', async () => {
    const fn = async (from: string) => {
      const name = `inv_${n++}`
      await c.query(`CREATE FUNCTION ${name}(i int) RETURNS text LANGUAGE plpython3u AS $py$
if 'p' not in SD:
    SD['p'] = plpy.prepare("SELECT add1($1) AS x${from}", ["int"])
try:
    return repr(plpy.execute(SD['p'], [i])[0]['x'])
except plpy.SPIError as e:
    return repr((getattr(e, 'sqlstate', None), str(e))) $py$`)
      return async (i: number) => (await c.query(`SELECT ${name}($1) AS v`, [i])).rows[0].v
    }
    await c.query(`CREATE FUNCTION add1(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 + 1'`)
    const s = await fn('')
    const t = await fn(' FROM one')
    const seen: unknown[][] = []
    const step = async () => seen.push([await s(1), await t(1)])
    await step()
    await c.query(
      `CREATE OR REPLACE FUNCTION add1(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 + 100'`,
    )
    await step()
    await c.query(
      `CREATE OR REPLACE FUNCTION add1(int) RETURNS int LANGUAGE plpython3u AS 'return args[0] + 1000'`,
    )
    await step()
    await c.query('ALTER FUNCTION add1(int) STABLE')
    await step()
    await c.query('DROP FUNCTION add1(int)')
    await step()
    await c.query(`CREATE FUNCTION add1(int) RETURNS text LANGUAGE sql AS $$ SELECT 'text ' || $1 $$`)
    await step()
    expect(seen.map(([a]) => a)).toEqual([
      '2',
      '101',
      '1001',
      '1001',
      "('42883', 'function add1(integer) does not exist')",
      "'text 1'",
    ])
    for (const [a, b] of seen) expect(a).toBe(b)
  })

  it('a search_path change replans', async () => {
    await c.query('CREATE SCHEMA sp1; CREATE SCHEMA sp2')
    await c.query(`CREATE FUNCTION sp1.which() RETURNS text LANGUAGE sql AS $$ SELECT 'one' $$`)
    await c.query(`CREATE FUNCTION sp2.which() RETURNS text LANGUAGE sql AS $$ SELECT 'two' $$`)
    const run = (from: string) =>
      py(`
plpy.execute("SET LOCAL search_path = sp1")
p = plpy.prepare("SELECT which() AS w${from}", [])
out = []
for sp in ['sp1', 'sp2', 'sp1, sp2', 'sp2, sp1', 'public']:
    plpy.execute("SET LOCAL search_path = " + sp)
    try:
        out.append(plpy.execute(p)[0]['w'])
    except plpy.SPIError as e:
        out.append(str(e))
return repr(out)`)
    const simple = await run('')
    expect(simple).toBe("['one', 'two', 'one', 'two', 'function which() does not exist']")
    expect(simple).toBe(await run(' FROM public.one'))
  })
})

describe('nesting, subtransactions and transactions', () => {
  it('an expression that runs the same plan again (recursion) works', async () => {
    const run = async (from: string) => {
      const name = `rec_${n++}`
      await c.query(`CREATE FUNCTION ${name}(d int) RETURNS int LANGUAGE plpython3u AS $py$
if 'p' not in GD:
    GD['p'] = {}
if '${name}' not in GD['p']:
    GD['p']['${name}'] = plpy.prepare("SELECT ${name}($1) + 1 AS x${from}", ["int"])
if d == 0:
    return 0
return plpy.execute(GD['p']['${name}'], [d - 1])[0]['x'] $py$`)
      return (await c.query(`SELECT ${name}(6) AS v, ${name}(3) AS w`)).rows[0]
    }
    const s = await run('')
    expect(s).toEqual({ v: 6, w: 3 })
    expect(s).toEqual(await run(' FROM one'))
  })

  it('errors, caught errors and rolled-back subtransactions leave the plan usable', async () => {
    const run = (from: string) =>
      py(`
p = plpy.prepare("SELECT 10 / $1 AS q${from}", ["int"])
out = []
for d in [1, 0, 2, 0, 5]:
    try:
        with plpy.subtransaction():
            out.append(plpy.execute(p, [d])[0]['q'])
            if d == 2:
                raise ValueError('roll back')
    except plpy.SPIError as e:
        out.append(e.sqlstate)
    except ValueError:
        out.append('rolled back')
    out.append(plpy.execute(p, [d or 10])[0]['q'])
return repr(out)`)
    const simple = await run('')
    expect(simple).toBe("[10, 10, '22012', 1, 5, 'rolled back', 5, '22012', 1, 2, 2]")
    expect(simple).toBe(await run(' FROM one'))
  })

  it('explicit transactions commit and roll back without plan-cache or resource-owner warnings', async () => {
    await c.query(`CREATE FUNCTION tx_val(i int) RETURNS int LANGUAGE plpython3u AS $py$
if 'p' not in SD:
    SD['p'] = plpy.prepare("SELECT $1 * 2 + log_count()::int AS x", ["int"])
return plpy.execute(SD['p'], [i])[0]['x'] $py$`)
    c.notices.length = 0
    for (const end of ['COMMIT', 'ROLLBACK', 'COMMIT']) {
      await c.query('BEGIN')
      expect((await c.query('SELECT tx_val(1) AS a, tx_val(2) AS b')).rows[0]).toEqual({ a: 2, b: 4 })
      await c.query('INSERT INTO log VALUES (1)')
      expect((await c.query('SELECT tx_val(3) AS a')).rows[0]).toEqual({ a: 7 })
      await failure(c, 'SELECT tx_val(1 / 0)')
      await c.query(end)
      await c.query('DELETE FROM log')
    }
    expect((await c.query('SELECT tx_val(5) AS a')).rows[0]).toEqual({ a: 10 })
    expect(c.notices.map((m) => m.message)).toEqual([])
  })

  it('plpy.commit() and plpy.rollback() in a procedure', async () => {
    const run = async (from: string) => {
      const name = `pr_${n++}`
      await c.query(`CREATE PROCEDURE ${name}() LANGUAGE plpython3u AS $py$
p = plpy.prepare("SELECT $1::int + log_count()::int AS x${from}", ["int"])
out = []
for i in range(3):
    out.append(plpy.execute(p, [i])[0]['x'])
    plpy.execute("INSERT INTO log VALUES (1)")
    plpy.commit()
    out.append(plpy.execute(p, [i])[0]['x'])
    plpy.execute("INSERT INTO log VALUES (2)")
    out.append(plpy.execute(p, [i])[0]['x'])
    plpy.rollback()
    out.append(plpy.execute(p, [i])[0]['x'])
plpy.execute("DELETE FROM log")
plpy.commit()
plpy.notice(repr(out)) $py$`)
      c.notices.length = 0
      await c.query(`CALL ${name}()`)
      return c.notices.map((m) => m.message)
    }
    const s = await run('')
    expect(s).toEqual(['[0, 1, 2, 1, 2, 3, 4, 3, 4, 5, 6, 5]'])
    expect(s).toEqual(await run(' FROM one'))
  })

  it('notices raised inside the expression carry the SQL statement context', async () => {
    await c.query(`CREATE FUNCTION noisy(i int) RETURNS int LANGUAGE plpython3u AS $py$
plpy.notice('inside %d' % i)
return i $py$`)
    const run = async (from: string) => {
      c.notices.length = 0
      await py(`
p = plpy.prepare("SELECT noisy($1) AS x${from}", ["int"])
return repr([plpy.execute(p, [i])[0]['x'] for i in range(2)])`)
      return c.notices.map((m) => [m.message, m.where?.replace(/f_[0-9a-z]+/g, 'F').replace(' FROM one', '')])
    }
    const s = await run('')
    expect(s[0]).toEqual([
      'inside 0',
      'PL/Python function "noisy"\nSQL statement "SELECT noisy($1) AS x"\nPL/Python function "F"',
    ])
    expect(s).toEqual(await run(' FROM one'))
  })
})

describe('which statements take the simple path', () => {
  it('only table-free one-row SELECTs keep a simple-expression entry, dropped with the plan', async () => {
    // every plan evaluated without the executor owns a memory context of this name (simple.ts save)
    const v = await py(`
def entries():
    return plpy.execute("SELECT count(*) AS n FROM pg_backend_memory_contexts WHERE name = 'pyglite simple expression'")[0]['n']
base = entries()
out = []
for q, t in [("SELECT $1::int + 1 AS x", ["int"]), ("SELECT $1, 'a' AS b, now() AS c", ["int"]),
             ("SELECT v FROM log WHERE v = $1", ["int"]), ("SELECT count(*) FROM generate_series(1, $1)", ["int"]),
             ("SELECT generate_series(1, $1)", ["int"]), ("SELECT 1 WHERE $1 > 0", ["int"]),
             ("SELECT (SELECT $1::int)", ["int"]), ("WITH w AS (SELECT $1::int AS x) SELECT x FROM w", ["int"]),
             ("SELECT $1 LIMIT 1", ["int"]), ("VALUES ($1::int)", ["int"]), ("INSERT INTO log VALUES ($1)", ["int"])]:
    p = plpy.prepare(q, t)
    plpy.execute(p, [1])
    out.append(entries() - base)
    del p
out.append(entries() - base)
plpy.execute("DELETE FROM log")
return repr(out)`)
    expect(v).toBe('[1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]')
  })
})
