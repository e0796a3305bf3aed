// PL/Python functions, DO blocks and procedures as PostgreSQL 18 documents them (chapter "PL/Python"),
// through node-postgres against a real server: arguments, NULLs, defaults, VARIADIC, overloading, SD/GD,
// CREATE OR REPLACE, the validator, SETOF/TABLE/record/OUT results, CALL with INOUT, and error reports.
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

describe('the language', () => {
  it('is installed in the initial database with PL/Python real handler names; plpythonu runs Python 3', async () => {
    const r =
      await c.query(`SELECT l.lanname, h.proname AS handler, i.proname AS inline, v.proname AS validator
      FROM pg_language l JOIN pg_proc h ON h.oid = l.lanplcallfoid JOIN pg_proc i ON i.oid = l.laninline
      JOIN pg_proc v ON v.oid = l.lanvalidator WHERE l.lanname = 'plpython3u'`)
    expect(r.rows).toEqual([
      {
        lanname: 'plpython3u',
        handler: 'plpython3_call_handler',
        inline: 'plpython3_inline_handler',
        validator: 'plpython3_validator',
      },
    ])
    // plpythonu comes with plpython3u (test/dump/plpythonu.test.ts)
    await c.query(
      `CREATE FUNCTION pyver() RETURNS int LANGUAGE plpythonu AS $$ import sys; return sys.version_info[0] $$`,
    )
    expect(await value(c, 'SELECT pyver()')).toBe(3)
    await c.query('DROP FUNCTION pyver()')
  })

  it('CREATE EXTENSION plpython3u after DROP EXTENSION', async () => {
    const c2 = await connect(srv)
    try {
      await c2.query('BEGIN')
      await c2.query('DROP EXTENSION plpython3u CASCADE')
      expect(await value(c2, `SELECT count(*)::int FROM pg_language WHERE lanname = 'plpython3u'`)).toBe(0)
      await c2.query('CREATE EXTENSION plpython3u')
      await c2.query(`DO $$ plpy.notice('back') $$ LANGUAGE plpython3u`)
      expect(c2.notices.map((n) => n.message)).toEqual(['back'])
    } finally {
      await c2.query('ROLLBACK')
      await c2.end()
    }
  })
})

describe('arguments', () => {
  it('are bound by name and as args; NULL is None', async () => {
    await fn(c, 'show_args(a int, b text, c float8) RETURNS text', 'return repr((a, b, c, args))')
    expect(await value(c, `SELECT show_args(1, NULL, 2.5)`)).toBe('(1, None, 2.5, [1, None, 2.5])')
  })

  it('an args list kept by the code is not changed by later calls', async () => {
    await fn(
      c,
      'keep_args(x int) RETURNS text',
      "GD.setdefault('kept', []).append(args)\nreturn repr(GD['kept'])",
    )
    expect(await value(c, 'SELECT keep_args(1)')).toBe('[[1]]')
    expect(await value(c, 'SELECT keep_args(2)')).toBe('[[1], [2]]')
    expect(await value(c, 'SELECT string_agg(keep_args(i), $$;$$) FROM generate_series(3, 4) i')).toBe(
      '[[1], [2], [3]];[[1], [2], [3], [4]]',
    )
  })

  it('an argument reassigned needs `global`, as in PL/Python', async () => {
    await fn(c, 'no_global(x int) RETURNS int', 'x = x + 1\nreturn x')
    const e = await failure(c, 'SELECT no_global(1)')
    expect(e.code).toBe('38000')
    expect(e.message).toBe(
      "UnboundLocalError: cannot access local variable 'x' where it is not associated with a value",
    )
    await fn(c, 'with_global(x int) RETURNS int', 'global x\nx = x + 1\nreturn x')
    expect(await value(c, 'SELECT with_global(1)')).toBe(2)
  })

  it('STRICT functions are not called with NULL; others receive None', async () => {
    await c.query(`CREATE FUNCTION strict_f(x int) RETURNS int STRICT LANGUAGE plpython3u AS $$
plpy.notice('called')
return 1 $$`)
    c.notices = []
    expect(await value(c, 'SELECT strict_f(NULL)')).toBe(null)
    expect(c.notices).toEqual([])
    await fn(c, 'lax_f(x int) RETURNS text', 'return repr(x)')
    expect(await value(c, 'SELECT lax_f(NULL)')).toBe('None')
  })

  it('DEFAULT arguments and named notation', async () => {
    await fn(
      c,
      'defaults(a int, b int DEFAULT 10, c text DEFAULT $$z$$) RETURNS text',
      'return "%s %s %s" % (a, b, c)',
    )
    expect(await value(c, 'SELECT defaults(1)')).toBe('1 10 z')
    expect(await value(c, 'SELECT defaults(1, 2)')).toBe('1 2 z')
    expect(await value(c, `SELECT defaults(c => 'q', a => 5)`)).toBe('5 10 q')
  })

  it('VARIADIC arrives as a list', async () => {
    await fn(c, 'total(VARIADIC xs int[]) RETURNS text', 'return repr((xs, sum(xs)))')
    expect(await value(c, 'SELECT total(1, 2, 3)')).toBe('([1, 2, 3], 6)')
    expect(await value(c, 'SELECT total(VARIADIC ARRAY[4, 5])')).toBe('([4, 5], 9)')
  })

  it('overloaded functions are distinct procedures', async () => {
    await fn(c, 'over(x int) RETURNS text', "return 'int %d' % x")
    await fn(c, 'over(x text) RETURNS text', "return 'text ' + x")
    expect(await value(c, `SELECT over(1) || ' / ' || over('a')`)).toBe('int 1 / text a')
  })

  it('pseudo-type arguments and results are refused at CREATE FUNCTION', async () => {
    let e = await failure(
      c,
      `CREATE FUNCTION poly(x anyelement) RETURNS int LANGUAGE plpython3u AS $$ return 1 $$`,
    )
    expect([e.code, e.message]).toEqual(['0A000', 'PL/Python functions cannot accept type anyelement'])
    e = await failure(c, `CREATE FUNCTION polyr() RETURNS cstring LANGUAGE plpython3u AS $$ return 1 $$`)
    expect([e.code, e.message]).toEqual(['0A000', 'PL/Python functions cannot return type cstring'])
    e = await failure(c, `CREATE FUNCTION evt() RETURNS event_trigger LANGUAGE plpython3u AS $$ pass $$`)
    expect([e.code, e.message]).toEqual(['0A000', 'trigger functions can only be called as triggers'])
    await c.query(`CREATE FUNCTION trig_only() RETURNS trigger LANGUAGE plpython3u AS $$ return None $$`)
    e = await failure(c, 'SELECT trig_only()')
    expect([e.code, e.message]).toEqual(['0A000', 'trigger functions can only be called as triggers'])
  })

  it('a recursive call restores the outer call arguments', async () => {
    await fn(
      c,
      'fact(n int) RETURNS int8',
      'if n <= 1:\n    return 1\nr = plpy.execute("SELECT fact(%d) AS r" % (n - 1))[0]["r"]\nreturn n * r',
    )
    expect(await value(c, 'SELECT fact(15)')).toBe('1307674368000')
  })
})

describe('SD, GD, CREATE OR REPLACE and the validator', () => {
  it('SD is per function and session, GD per session', async () => {
    await fn(c, 'sd_count() RETURNS int', "SD['n'] = SD.get('n', 0) + 1\nreturn SD['n']")
    await fn(c, 'sd_other() RETURNS int', "SD['n'] = SD.get('n', 100) + 1\nreturn SD['n']")
    await fn(c, 'gd_put(v text) RETURNS void', "GD['v'] = v")
    await fn(c, 'gd_get() RETURNS text', "return GD.get('v')")
    expect(await value(c, 'SELECT sd_count()')).toBe(1)
    expect(await value(c, 'SELECT sd_count()')).toBe(2)
    expect(await value(c, 'SELECT sd_other()')).toBe(101)
    await c.query(`SELECT gd_put('mine')`)
    expect(await value(c, 'SELECT gd_get()')).toBe('mine')
    const c2 = await connect(srv)
    try {
      expect(await value(c2, 'SELECT sd_count()')).toBe(1)
      expect(await value(c2, 'SELECT gd_get()')).toBe(null)
      await c2.query(`SELECT gd_put('theirs')`)
    } finally {
      await c2.end()
    }
    expect(await value(c, 'SELECT gd_get()')).toBe('mine')
    expect(await value(c, 'SELECT sd_count()')).toBe(3)
  })

  it("__main__'s names: every function and DO block of a session shares them, another session has its own", async () => {
    // PL/Python copies __main__'s dict into each procedure's globals: a shallow copy, so its
    // __annotations__ dict is the backend's, written only by name
    await fn(c, 'ann_put(k text) RETURNS void', '__annotations__[k] = 1')
    await fn(c, 'ann_get() RETURNS text', 'return ",".join(sorted(__annotations__))')
    await c.query(`SELECT ann_put('mine')`)
    await c.query(`DO $$ __annotations__['do'] = 1 $$ LANGUAGE plpython3u`)
    expect(await value(c, 'SELECT ann_get()')).toBe('do,mine')
    const c2 = await connect(srv)
    try {
      expect(await value(c2, 'SELECT ann_get()')).toBe('')
    } finally {
      await c2.end()
    }
  })

  it('CREATE OR REPLACE takes effect at once, also for other sessions and after ROLLBACK', async () => {
    await fn(c, 'version_f() RETURNS int', 'return 1')
    const c2 = await connect(srv)
    try {
      expect(await value(c2, 'SELECT version_f()')).toBe(1)
      await fn(c, 'version_f() RETURNS int', 'return 2')
      expect(await value(c, 'SELECT version_f()')).toBe(2)
      expect(await value(c2, 'SELECT version_f()')).toBe(2)
      await c.query('BEGIN')
      await fn(c, 'version_f() RETURNS int', 'return 3')
      expect(await value(c, 'SELECT version_f()')).toBe(3)
      await c.query('ROLLBACK')
      expect(await value(c, 'SELECT version_f()')).toBe(2)
    } finally {
      await c2.end()
    }
  })

  it('the validator reports syntax errors at CREATE FUNCTION; check_function_bodies=off defers them', async () => {
    const e = await failure(
      c,
      `CREATE FUNCTION syntax_err() RETURNS int LANGUAGE plpython3u AS $$
x = 
$$`,
    )
    expect(e.code).toBe('38000')
    expect(e.message).toBe('could not compile PL/Python function "syntax_err"')
    // line 3 of the munged source: `def …():`, then the body's leading empty line
    expect(e.detail).toBe('SyntaxError: invalid syntax (<string>, line 3)')
    await c.query('SET check_function_bodies = off')
    await c.query(`CREATE FUNCTION syntax_err() RETURNS int LANGUAGE plpython3u AS $$
x = 
$$`)
    await c.query('RESET check_function_bodies')
    const e2 = await failure(c, 'SELECT syntax_err()')
    expect(e2.message).toBe('could not compile PL/Python function "syntax_err"')
  })
})

describe('results', () => {
  it('SETOF from a list, a tuple, an iterator and a generator', async () => {
    await fn(c, 'from_list() RETURNS SETOF int', 'return [1, 2, 3]')
    await fn(c, 'from_tuple() RETURNS SETOF text', "return ('a', None)")
    await fn(c, 'from_iter() RETURNS SETOF int', 'return iter(range(2))')
    await fn(c, 'from_gen(n int) RETURNS SETOF int', 'for i in range(n):\n    yield i * n')
    expect((await c.query('SELECT * FROM from_list() x')).rows).toEqual([{ x: 1 }, { x: 2 }, { x: 3 }])
    expect((await c.query('SELECT * FROM from_tuple() x')).rows).toEqual([{ x: 'a' }, { x: null }])
    expect((await c.query('SELECT from_iter() x')).rows).toEqual([{ x: 0 }, { x: 1 }])
    expect((await c.query('SELECT from_gen(3) x')).rows).toEqual([{ x: 0 }, { x: 3 }, { x: 6 }])
    await fn(c, 'not_iterable() RETURNS SETOF int', 'return 5')
    const e = await failure(c, 'SELECT * FROM not_iterable()')
    expect([e.code, e.message, e.detail, e.where]).toEqual([
      '42804',
      'returned object cannot be iterated',
      'PL/Python set-returning functions must return an iterable object.',
      'PL/Python function "not_iterable"',
    ])
  })

  it('a generator in the select list is advanced only as far as LIMIT needs, and closed', async () => {
    await fn(
      c,
      'counted() RETURNS SETOF int',
      "GD['made'] = 0\ntry:\n    for i in range(1000000):\n        GD['made'] += 1\n        yield i\nfinally:\n    GD['closed'] = True",
    )
    await fn(c, 'gd_made() RETURNS text', "return '%s %s' % (GD.get('made'), GD.get('closed'))")
    expect((await c.query('SELECT counted() AS v LIMIT 3')).rows).toEqual([{ v: 0 }, { v: 1 }, { v: 2 }])
    expect(await value(c, 'SELECT gd_made()')).toBe('3 True')
  })

  it('an error in the middle of a generator', async () => {
    await fn(c, 'half() RETURNS SETOF int', "yield 1\nraise ValueError('half way')")
    const e = await failure(c, 'SELECT * FROM half()')
    expect([e.code, e.message, e.detail]).toEqual([
      '38000',
      'error fetching next item from iterator',
      'ValueError: half way',
    ])
    expect(e.where).toBe('Traceback (most recent call last):\nPL/Python function "half"')
    // in the select list rows are fetched one at a time: LIMIT 1 never reaches the error
    expect((await c.query('SELECT half() LIMIT 1')).rows).toEqual([{ half: 1 }])
  })

  it('RETURNS TABLE, SETOF composite, OUT parameters', async () => {
    await fn(c, 'tbl(n int) RETURNS TABLE(i int, sq text)', 'return [(i, str(i * i)) for i in range(n)]')
    expect((await c.query('SELECT * FROM tbl(3)')).rows).toEqual([
      { i: 0, sq: '0' },
      { i: 1, sq: '1' },
      { i: 2, sq: '4' },
    ])
    await c.query('CREATE TYPE kv AS (k text, v int)')
    await fn(c, 'kvs() RETURNS SETOF kv', "yield {'k': 'a', 'v': 1}\nyield ('b', 2)")
    expect((await c.query('SELECT * FROM kvs()')).rows).toEqual([
      { k: 'a', v: 1 },
      { k: 'b', v: 2 },
    ])
    await fn(c, 'one_out(x int, OUT doubled int)', 'return x * 2')
    expect(await value(c, 'SELECT one_out(21)')).toBe(42)
    await fn(c, 'two_out(x int, OUT a int, OUT b text)', "return {'a': x, 'b': 'v%d' % x}")
    expect((await c.query('SELECT * FROM two_out(7)')).rows).toEqual([{ a: 7, b: 'v7' }])
    expect(await value(c, 'SELECT two_out(7)::text')).toBe('(7,v7)')
  })

  it('RETURNS record takes its columns from the call site', async () => {
    await fn(c, 'anyrec() RETURNS record', "return {'x': 1, 'y': 'two'}")
    expect((await c.query('SELECT * FROM anyrec() AS t(x int, y text)')).rows).toEqual([{ x: 1, y: 'two' }])
    expect((await c.query('SELECT * FROM anyrec() AS t(y text, x numeric)')).rows).toEqual([
      { y: 'two', x: '1' },
    ])
    const e = await failure(c, 'SELECT anyrec()')
    expect([e.code, e.message]).toEqual([
      '0A000',
      'function returning record called in context that cannot accept type record',
    ])
    expect(e.where).toBe('while creating return value\nPL/Python function "anyrec"')
    await fn(c, 'recs() RETURNS SETOF record', "return [(1, 'a'), (2, 'b')]")
    expect((await c.query('SELECT * FROM recs() AS t(n int, s text)')).rows).toEqual([
      { n: 1, s: 'a' },
      { n: 2, s: 'b' },
    ])
  })

  it('void functions must return None', async () => {
    await fn(c, 'nothing() RETURNS void', 'return 1')
    const e = await failure(c, 'SELECT nothing()')
    expect([e.code, e.message]).toEqual([
      '42804',
      'PL/Python function with return type "void" did not return None',
    ])
  })
})

describe('DO and procedures', () => {
  it('DO blocks run Python; their errors name the anonymous code block', async () => {
    c.notices = []
    await c.query(`DO $$ plpy.notice('from DO %d' % (6 * 7)) $$ LANGUAGE plpython3u`)
    expect(c.notices.map((n) => n.message)).toEqual(['from DO 42'])
    const e = await failure(c, `DO $$\nx = 1\nraise Exception('boom')\n$$ LANGUAGE plpython3u`)
    expect([e.code, e.message]).toEqual(['38000', 'Exception: boom'])
    expect(e.where).toBe(
      "Traceback (most recent call last):\n  PL/Python anonymous code block, line 3, in <module>\n    raise Exception('boom')\nPL/Python anonymous code block",
    )
  })

  it('CALL returns INOUT/OUT values; procedures must return None otherwise', async () => {
    await c.query(`CREATE PROCEDURE scale(a int, INOUT b int, INOUT c text) LANGUAGE plpython3u AS $$
return (b * a, c * a) $$`)
    expect((await c.query(`CALL scale(2, 3, 'x')`)).rows).toEqual([{ b: 6, c: 'xx' }])
    await c.query(
      `CREATE PROCEDURE out_only(IN a int, OUT b int) LANGUAGE plpython3u AS $$ return (a + 1,) $$`,
    )
    expect((await c.query(`CALL out_only(1, NULL)`)).rows).toEqual([{ b: 2 }])
    await c.query(`CREATE PROCEDURE not_none() LANGUAGE plpython3u AS $$ return 5 $$`)
    const e = await failure(c, 'CALL not_none()')
    expect([e.code, e.message, e.where]).toEqual([
      '42804',
      'PL/Python procedure did not return None',
      'PL/Python procedure "not_none"',
    ])
    await c.query('CREATE TABLE ledger (n int)')
    await c.query(`CREATE PROCEDURE fill(k int) LANGUAGE plpython3u AS $$
for i in range(k):
    plpy.execute("INSERT INTO ledger VALUES (%d)" % i)
    plpy.commit()
$$`)
    await c.query('CALL fill(3)')
    expect(await value(c, 'SELECT count(*)::int FROM ledger')).toBe(3)
  })
})

describe('errors', () => {
  it("a Python exception aborts the statement with PL/Python's message, SQLSTATE and traceback", async () => {
    await fn(
      c,
      'divide(a int, b int) RETURNS float8',
      'def helper(x, y):\n    return x / y\nreturn helper(a, b)',
    )
    const e = await failure(c, 'SELECT divide(1, 0)')
    expect([e.code, e.message, e.severity]).toEqual(['38000', 'ZeroDivisionError: division by zero', 'ERROR'])
    expect(e.where).toBe(
      [
        'Traceback (most recent call last):',
        // fn() starts the body on a new line: line numbers count from the dollar quote
        '  PL/Python function "divide", line 4, in <module>',
        '    return helper(a, b)',
        '  PL/Python function "divide", line 3, in helper',
        '    return x / y',
        'PL/Python function "divide"',
      ].join('\n'),
    )
    expect(await value(c, 'SELECT divide(1, 4)')).toBe(0.25)
  })

  it('PL/pgSQL EXCEPTION blocks catch them', async () => {
    await c.query(`CREATE FUNCTION guarded() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM divide(1, 0);
  RETURN 'not reached';
EXCEPTION WHEN external_routine_exception THEN
  RETURN 'caught ' || SQLSTATE || ': ' || SQLERRM;
END $$`)
    expect(await value(c, 'SELECT guarded()')).toBe('caught 38000: ZeroDivisionError: division by zero')
  })

  it('errors inside an explicit transaction leave it aborted, then usable after ROLLBACK', async () => {
    await c.query('BEGIN')
    await failure(c, 'SELECT divide(1, 0)')
    const e = await failure(c, 'SELECT 1')
    expect(e.code).toBe('25P02')
    await c.query('ROLLBACK')
    expect(await value(c, 'SELECT divide(3, 4)')).toBe(0.75)
  })
})
