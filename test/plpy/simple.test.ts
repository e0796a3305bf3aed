// Plans that are simple expressions (plpy-shim/simple.ts, PL/pgSQL's simple-expression path) against
// the real server: each case runs the same statement once as a simple expression and once with a
// one-row table in it (which always goes through SPI_execute_plan), and the two must agree on values,
// types, column names, status, errors (message, SQLSTATE, CONTEXT), invalidation and transactions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'
import { type Client, connect, failure } from './clients.js'

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
  if (process.env.SIMPLE_DEBUG) console.log((srv.output().match(/SIMPLE .*/g) ?? []).join('\n'))
  await c?.end()
  await srv?.stop()
})

let n = 0
/** Create a plpython3u function with `body` and return its result for `call` (default: no arguments). */
async function py(body: string, returns = 'text', opts = ''): Promise<unknown> {
  const name = `s_${n++}`
  await c.query(
    `CREATE FUNCTION ${name}() RETURNS ${returns} LANGUAGE plpython3u ${opts} AS $py$\n${body}\n$py$`,
  )
  return (await c.query(`SELECT ${name}() AS v`)).rows[0].v
}

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
