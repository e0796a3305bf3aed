// Abuse: runaway SQL → Python → SQL recursion, huge allocations, objects whose __del__/__str__/
// __getitem__ raise, SystemExit, abandoned generators. Each ends in an error as PostgreSQL 18 reports it
// (or a result, where PostgreSQL gives one), never in a dead server or a wedged engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'
import { type Client, connect, failure, fn, value } from './util.js'

let srv: TestServer
let c: Client
beforeAll(async () => {
  srv = await startServer()
  c = await connect(srv)
})
afterAll(async () => {
  await c?.end()
  await srv?.stop()
})

async function alive(): Promise<void> {
  expect(await value(c, 'SELECT 41 + 1')).toBe(42)
  expect(srv.proc.exitCode).toBe(null)
}

describe('abuse', () => {
  it('runaway SQL → Python → SQL recursion stops with 54001', async () => {
    await fn(c, 'dive(n int) RETURNS int', 'return plpy.execute("SELECT dive(%d) AS r" % (n + 1))[0]["r"]')
    const e = await failure(c, 'SELECT dive(1)')
    expect(e.code).toBe('54001')
    expect(e.message).toMatch(/stack depth limit exceeded$/)
    expect(e.hint).toMatch(/max_stack_depth/)
    await alive()
  })

  it('SQL → Python → SQL recursion as deep as PostgreSQL 15 goes (~335 levels) works', async () => {
    await fn(
      c,
      'dive_to(n int, lim int) RETURNS int',
      'if n >= lim:\n    return n\nreturn plpy.execute("SELECT dive_to(%d, %d) AS r" % (n + 1, lim))[0]["r"]',
    )
    expect(await value(c, 'SELECT dive_to(0, 330)')).toBe(330)
    await alive()
  })

  it("Python's RecursionError at the bottom of SQL → Python → SQL recursion is reported, not lost", async () => {
    // the limit is the interpreter's (every session's): lowered so that Python's limit comes before the
    // nesting limit, as it does in PostgreSQL; the error is formatted with frames lent past the limit
    await fn(
      c,
      'plunge(n int) RETURNS int',
      'return plpy.execute("SELECT plunge(%d) AS r" % (n + 1))[0]["r"]',
    )
    await c.query('DO $$ import sys; sys.setrecursionlimit(250) $$ LANGUAGE plpython3u')
    try {
      const e = await failure(c, 'SELECT plunge(1)')
      expect(e.code).toBe('38000')
      expect(e.message).toMatch(
        /^spiexceptions\.ExternalRoutineException: .*RecursionError: maximum recursion depth exceeded( while calling a Python object)?$/,
      )
    } finally {
      await c.query('DO $$ import sys; sys.setrecursionlimit(1000) $$ LANGUAGE plpython3u')
    }
    await alive()
  })

  it('Python recursion ends in RecursionError', async () => {
    await fn(c, 'spin() RETURNS int', 'def f(n):\n    return f(n + 1)\nreturn f(0)')
    const e = await failure(c, 'SELECT spin()')
    expect([e.code, e.message]).toEqual(['38000', 'RecursionError: maximum recursion depth exceeded'])
    await alive()
  })

  it('huge allocations: MemoryError in Python, palloc limits in the engine', async () => {
    await fn(c, 'hog() RETURNS text', "return 'x' * (2 ** 42)")
    const e = await failure(c, 'SELECT hog()')
    expect([e.code, e.message]).toEqual(['38000', 'MemoryError: '])
    await fn(c, 'gig() RETURNS text', "return 'x' * (1 << 30)")
    const e2 = await failure(c, 'SELECT length(gig())')
    expect(e2.message).toBe(`invalid memory alloc request size ${(1 << 30) + 4}`)
    expect(e2.where).toBe('while creating return value\nPL/Python function "gig"')
    await alive()
  })

  it('__del__ that raises: the function still returns (the exception is unraisable)', async () => {
    await fn(
      c,
      'del_raises() RETURNS int',
      "class D:\n    def __del__(self):\n        raise RuntimeError('in __del__')\nd = D()\ndel d\nreturn 5",
    )
    expect(await value(c, 'SELECT del_raises()')).toBe(5)
    await alive()
  })

  it('__str__ that raises', async () => {
    await fn(
      c,
      'str_raises() RETURNS text',
      "class X:\n    def __str__(self):\n        raise ValueError('no str')\nreturn X()",
    )
    const e = await failure(c, 'SELECT str_raises()')
    expect([e.code, e.message, e.detail]).toEqual([
      '38000',
      'could not create string representation of Python object',
      'ValueError: no str',
    ])
    expect(e.where).toBe(
      'Traceback (most recent call last):\nwhile creating return value\nPL/Python function "str_raises"',
    )
    await alive()
  })

  it('an error whose message has a lone surrogate: "could not convert Python Unicode object to bytes"', async () => {
    // PL/Python's conversion of the message fails (plpy_util.c PLyUnicode_Bytes); it was "unknown Python
    // error" with no detail. PostgreSQL 15 gives the same for a DO block (oracle file plpython_errors7).
    await fn(c, 'sur_srf() RETURNS SETOF int', "yield 1\nraise ValueError('a\\udc80b')")
    const cases: Array<[string, string]> = [
      ['SELECT sur_srf()', "'\\udc80' in position 1"],
      ["DO $$ raise plpy.Error('\\ud800') $$ LANGUAGE plpython3u", "'\\ud800' in position 0"],
    ]
    for (const [q, where] of cases) {
      const e = await failure(c, q)
      expect([e.code, e.message, e.detail]).toEqual([
        '38000',
        'could not convert Python Unicode object to bytes',
        `UnicodeEncodeError: 'utf-8' codec can't encode character ${where}: surrogates not allowed`,
      ])
    }
    await alive()
  })

  it('__getitem__ that raises, for arrays and composites', async () => {
    const seq =
      'class S:\n    def __len__(self):\n        return 2\n    def __getitem__(self, i):\n        raise KeyError(i)\nreturn S()'
    await fn(c, 'getitem_arr() RETURNS int[]', seq)
    await c.query('CREATE TYPE two AS (a int, b int)')
    await fn(c, 'getitem_row() RETURNS two', seq)
    for (const f of ['getitem_arr', 'getitem_row']) {
      const e = await failure(c, `SELECT ${f}()`)
      expect([e.code, e.message, e.detail]).toEqual([
        '38000',
        'could not get element 0 from sequence',
        'KeyError: 0',
      ])
    }
    await alive()
  })

  it('SystemExit and KeyboardInterrupt are errors, not exits', async () => {
    await fn(c, 'leave() RETURNS int', 'import sys\nsys.exit(3)')
    expect((await failure(c, 'SELECT leave()')).message).toBe('SystemExit: 3')
    await fn(c, 'ctrl_c() RETURNS int', 'raise KeyboardInterrupt')
    expect((await failure(c, 'SELECT ctrl_c()')).message).toBe('KeyboardInterrupt: ')
    await alive()
  })

  it('a generator abandoned by an error elsewhere in the query is closed', async () => {
    await fn(
      c,
      'watched() RETURNS SETOF int',
      "try:\n    for i in range(10):\n        yield i\nfinally:\n    GD['watched'] = 'closed'",
    )
    await fn(c, 'watch_state() RETURNS text', "return GD.pop('watched', 'open')")
    const e = await failure(c, 'SELECT watched(), 1 / (3 - watched()) ')
    expect(e.code).toBe('22012')
    expect(await value(c, 'SELECT watch_state()')).toBe('closed')
    await alive()
  })

  it('SQL run by a __str__ while a result is converted (PostgreSQL 15 crashes: its SPI is finished)', async () => {
    // the conversion runs in the call (plpy_exec.c); pyglite's SPI is still connected, nested PL/Python
    // calls convert their own results meanwhile, and a __str__ that raises is the conversion's error
    await fn(c, 'conv_inner(k int) RETURNS text', "return 'inner%d' % k")
    await fn(
      c,
      'conv_spi(n int) RETURNS text',
      "class X:\n    def __str__(self):\n        r = plpy.execute('SELECT conv_inner(%d) AS t, conv_spi(%d) AS s' % (n, n - 1))[0]\n        return '%s/%s' % (r['t'], r['s'])\nreturn 'base' if n == 0 else X()",
    )
    expect(await value(c, 'SELECT conv_spi(3)')).toBe('inner3/inner2/inner1/base')
    await fn(
      c,
      'conv_spi_srf() RETURNS SETOF text',
      "class X:\n    def __init__(self, k): self.k = k\n    def __str__(self):\n        return plpy.execute('SELECT conv_inner(%d) AS t' % self.k)[0]['t']\nfor k in range(3):\n    yield X(k)",
    )
    const r = await c.query('SELECT conv_spi_srf() AS v')
    expect(r.rows.map((x) => x.v)).toEqual(['inner0', 'inner1', 'inner2'])
    await fn(
      c,
      'conv_raise() RETURNS int',
      "class X:\n    def __str__(self):\n        plpy.execute('SELECT 1/0')\nreturn X()",
    )
    const e = await failure(c, 'SELECT conv_raise()')
    // PLy_elog with the SPI exception pending: its SQLSTATE (PLy_get_spi_error_data)
    expect([e.code, e.message, e.detail]).toEqual([
      '22012',
      'could not create string representation of Python object',
      'spiexceptions.DivisionByZero: division by zero',
    ])
    await alive()
  })

  it("SQL run by a __str__ while a trigger's MODIFY converts the row is refused (PostgreSQL 15 crashes)", async () => {
    // PL/Python modifies the row after SPI_finish; only messages work there, and the refusal leaves the
    // next row's trigger (and its SQL) working
    await c.query('CREATE TABLE modified (a int, b text)')
    await fn(
      c,
      'modify_spi() RETURNS trigger',
      "class X:\n    def __str__(self):\n        plpy.notice('in __str__')\n        return str(plpy.execute('SELECT 1 AS one')[0]['one'])\nplpy.execute('SELECT 2')\nif TD['new']['a'] == 1:\n    TD['new']['b'] = X()\n    return 'MODIFY'",
    )
    await c.query(
      'CREATE TRIGGER modify_spi BEFORE INSERT ON modified FOR EACH ROW EXECUTE FUNCTION modify_spi()',
    )
    const e = await failure(c, "INSERT INTO modified VALUES (1, 'x')")
    expect([e.code, e.message, e.detail]).toEqual([
      '38000',
      'could not create string representation of Python object',
      "RuntimeError: only plpy's messages can be used while a trigger row is modified",
    ])
    expect((await c.query("INSERT INTO modified VALUES (2, 'y') RETURNING b")).rows).toEqual([{ b: 'y' }])
    await alive()
  })

  it('a million rows through a set-returning function and a big array', async () => {
    await fn(c, 'many(n int) RETURNS SETOF int8', 'for i in range(n):\n    yield i')
    expect(await value(c, 'SELECT sum(v)::text FROM many(1000000) v')).toBe('499999500000')
    await fn(c, 'big_array(n int) RETURNS int[]', 'return list(range(n))')
    expect(await value(c, 'SELECT array_length(big_array(1000000), 1)')).toBe(1000000)
    await alive()
  })
})
