// plpy's messages, errors, FATAL and quoting as clients see them: node-postgres notice and error fields,
// psql's output, client_min_messages, notices delivered while the statement still runs.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Reference, startReference } from '../helpers/reference.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { type Client, connect, failure, psql } from './clients.js'

let srv: TestServer
let c: Client

beforeAll(async () => {
  srv = await startServer()
  c = await connect(srv)
  await c.query(`CREATE FUNCTION say(level text, msg text) RETURNS int LANGUAGE plpython3u AS $$
getattr(plpy, level)(msg, detail="the detail", hint="the hint", sqlstate="01P42" if level == "warning" else None) \\
    if level in ("warning",) else getattr(plpy, level)(msg, detail="the detail", hint="the hint")
return 1
$$`)
})
afterAll(async () => {
  await c?.end()
  await srv?.stop()
})

describe('plpy.debug … plpy.warning', () => {
  it('sends notices with every field to node-postgres', async () => {
    c.notices.length = 0
    await c.query(`DO $$
plpy.info("an info", detail="d", hint="h", sqlstate="01234", schema_name="s", table_name="t",
          column_name="c", datatype_name="dt", constraint_name="cn")
plpy.notice("a notice")
plpy.warning("a warning", detail=(1, 2))
plpy.notice("several", "args")
plpy.debug("not shown")
plpy.log("to the server log only")
$$ LANGUAGE plpython3u`)
    const n = c.notices.map((x) => ({
      severity: x.severity,
      code: x.code,
      message: x.message,
      detail: x.detail,
      hint: x.hint,
      schema: x.schema,
      table: x.table,
      column: x.column,
      dataType: x.dataType,
      constraint: x.constraint,
      where: x.where,
    }))
    const none = { hint: undefined, schema: undefined, table: undefined, column: undefined }
    const rest = { dataType: undefined, constraint: undefined, where: 'PL/Python anonymous code block' }
    expect(n).toEqual([
      {
        severity: 'INFO',
        code: '01234',
        message: 'an info',
        detail: 'd',
        hint: 'h',
        schema: 's',
        table: 't',
        column: 'c',
        dataType: 'dt',
        constraint: 'cn',
        where: 'PL/Python anonymous code block',
      },
      { severity: 'NOTICE', code: '00000', message: 'a notice', detail: undefined, ...none, ...rest },
      { severity: 'WARNING', code: '01000', message: 'a warning', detail: '(1, 2)', ...none, ...rest },
      {
        severity: 'NOTICE',
        code: '00000',
        message: "('several', 'args')",
        detail: undefined,
        ...none,
        ...rest,
      },
    ])
  })

  it("says where PostgreSQL 18.6 reports them from (LOCATION: PLy_output, not PL/Python's error path)", async () => {
    c.notices.length = 0
    await c.query(`DO $$ plpy.notice("located") $$ LANGUAGE plpython3u`)
    const n = c.notices.map((x) => [x.message, x.file, x.line, x.routine])
    expect(n).toEqual([['located', 'plpy_plpymodule.c', '523', 'PLy_output']])
    const e = await failure(c, `DO $$ plpy.error("failed") $$ LANGUAGE plpython3u`)
    expect([e.file, e.line, e.routine]).toEqual(['plpy_elog.c', '123', 'PLy_elog_impl'])
  })

  it('respects client_min_messages', async () => {
    c.notices.length = 0
    await c.query('SET client_min_messages = warning')
    await c.query(`SELECT say('notice', 'hidden'), say('warning', 'shown'), say('info', 'info always')`)
    await c.query('SET client_min_messages = debug2')
    await c.query(`SELECT say('debug', 'debug shown')`)
    await c.query('RESET client_min_messages')
    expect(c.notices.map((n) => `${n.severity} ${n.code} ${n.message}`)).toEqual([
      'WARNING 01P42 shown',
      'INFO 00000 info always',
      'DEBUG 00000 debug shown',
    ])
  })

  it('delivers a notice while the statement is still running', async () => {
    const flag = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'plpy-')), 'seen')
    await c.query(`CREATE FUNCTION wait_for(path text) RETURNS text LANGUAGE plpython3u AS $$
import os, time
plpy.notice("waiting for " + path)
deadline = time.monotonic() + 30
while not os.path.exists(path):
    if time.monotonic() > deadline:
        return "the client never saw the notice"
    time.sleep(0.005)
return "the client answered"
$$`)
    const onNotice = (n: { message?: string }) => {
      if (n.message === `waiting for ${flag}`) fs.writeFileSync(flag, 'x')
    }
    c.on('notice', onNotice)
    try {
      const r = await c.query('SELECT wait_for($1) AS v', [flag])
      expect(r.rows[0].v).toBe('the client answered')
    } finally {
      c.off('notice', onNotice)
    }
  })

  it('shows notices with DETAIL and HINT in psql', async () => {
    const r = await psql(srv, `SELECT say('notice', 'from psql');`)
    // psql's default SHOW_CONTEXT=errors prints no CONTEXT line for notices
    expect(r.stderr).toBe('NOTICE:  from psql\nDETAIL:  the detail\nHINT:  the hint\n')
    expect(r.stdout).toContain(' say \n-----\n   1\n(1 row)')
  })
})

describe('a message whose ereport fails', () => {
  let ref: Reference | undefined
  afterAll(() => ref?.stop())

  // PLy_output (plpy_plpymodule.c) catches whatever its ereport raises and sets plpy.Error with the
  // ErrorData's fields (PLy_exception_set_with_details): not an SPI exception, and the function goes on
  it('raises plpy.Error with the SQLSTATE, as PostgreSQL 15 does', async () => {
    ref = await startReference()
    const block = `DO $$
try:
    plpy.notice('price: \\u20ac')
    plpy.info('sent')
except Exception as e:
    plpy.info('%s.%s %s %s' % (type(e).__module__, type(e).__name__, e.sqlstate, isinstance(e, plpy.SPIError)))
    plpy.info(str(e))
plpy.info('went on')
$$ LANGUAGE plpython3u`
    const run = async (url: string) => {
      const k = new pg.Client({ connectionString: url })
      const seen: string[] = []
      k.on('notice', (n) => seen.push(`${n.severity} ${n.code} ${n.message}`))
      await k.connect()
      try {
        await k.query('CREATE EXTENSION IF NOT EXISTS plpython3u')
        await k.query("SET client_encoding = 'LATIN1'") // has no euro sign
        await k.query(block)
        return seen.filter((m) => !m.includes('already exists'))
      } finally {
        await k.end()
      }
    }
    const ours = await run(srv.url())
    expect(ours).toEqual([
      'INFO 00000 plpy.Error 22P05 False',
      'INFO 00000 character with byte sequence 0xe2 0x82 0xac in encoding "UTF8" has no equivalent in encoding "LATIN1"',
      'INFO 00000 went on',
    ])
    expect(ours).toEqual(await run(ref.url))
  })
})

describe('plpy.error and raised exceptions', () => {
  it('gives the client the message, SQLSTATE, detail, hint and traceback', async () => {
    await c.query(`CREATE FUNCTION fail(state text) RETURNS int LANGUAGE plpython3u AS $$
if state:
    plpy.error("it failed", detail="why", hint="what to do", sqlstate=state, table_name="tab")
plpy.error("default state")
$$`)
    const e = await failure(c, `SELECT fail('P0123')`)
    expect([e.severity, e.code, e.message, e.detail, e.hint, e.table]).toEqual([
      'ERROR',
      'P0123',
      'plpy.Error: it failed',
      'why',
      'what to do',
      'tab',
    ])
    expect(e.where).toBe(
      'Traceback (most recent call last):\n  PL/Python function "fail", line 3, in <module>\n' +
        '    plpy.error("it failed", detail="why", hint="what to do", sqlstate=state, table_name="tab")\n' +
        'PL/Python function "fail"',
    )
    expect((await failure(c, `SELECT fail('')`)).code).toBe('XX000') // ereport(ERROR)'s default
    expect((await failure(c, `DO $$ raise plpy.Error("raised") $$ LANGUAGE plpython3u`)).code).toBe('38000')
    const caught = await failure(
      c,
      `DO $$
try:
    plpy.error("inner", sqlstate="P0001", hint="h")
except plpy.Error as e:
    plpy.error("outer: %s %s %s %s" % (e.sqlstate, e.hint, e.detail, e.args))
$$ LANGUAGE plpython3u`,
    )
    expect(caught.message).toBe("plpy.Error: outer: P0001 h None ('inner',)")
  })

  it('shows the error like PostgreSQL in psql', async () => {
    const r = await psql(srv, `SELECT fail('P0123');`)
    expect(r.stderr).toBe(
      'ERROR:  plpy.Error: it failed\nDETAIL:  why\nHINT:  what to do\nCONTEXT:  Traceback (most recent call last):\n' +
        '  PL/Python function "fail", line 3, in <module>\n' +
        '    plpy.error("it failed", detail="why", hint="what to do", sqlstate=state, table_name="tab")\n' +
        'PL/Python function "fail"\n',
    )
  })

  it('validates keyword arguments as PL/Python does', async () => {
    const msgs: string[] = []
    for (const call of [
      `plpy.info("x", sqlstate="123")`,
      `plpy.info("x", bogus=1)`,
      `plpy.info("x", message="y")`,
    ]) {
      msgs.push((await failure(c, `DO $py$ ${call} $py$ LANGUAGE plpython3u`)).message)
    }
    expect(msgs).toEqual([
      'ValueError: invalid SQLSTATE code',
      "TypeError: 'bogus' is an invalid keyword argument for this function",
      "TypeError: argument 'message' given by name and position",
    ])
  })
})

describe('plpy.fatal', () => {
  it('ends only that client session, FATAL, with its transaction rolled back', async () => {
    await c.query('CREATE TABLE kept (v int)')
    await c.query(`CREATE FUNCTION die() RETURNS int LANGUAGE plpython3u AS $$
plpy.notice("about to die")
plpy.fatal("goodbye", detail="dd", hint="hh", sqlstate="XX123")
plpy.notice("never")
$$`)
    const victim = await connect(srv)
    const ended = new Promise<boolean>((resolve) => victim.on('end', () => resolve(true)))
    victim.on('error', () => {}) // the connection drops: that is the point
    await victim.query('BEGIN')
    await victim.query('INSERT INTO kept VALUES (1)')
    const e = await failure(victim, 'SELECT die()')
    expect([e.severity, e.code, e.message, e.detail, e.hint, e.where]).toEqual([
      'FATAL',
      'XX123',
      'goodbye',
      'dd',
      'hh',
      'PL/Python function "die"',
    ])
    expect(victim.notices.map((n) => n.message)).toEqual(['about to die'])
    expect(await ended).toBe(true) // the server closed the connection
    const again = await victim.query('SELECT 1').catch((err: Error) => err)
    expect(again).toBeInstanceOf(Error)
    // everyone else goes on; the victim's transaction is gone
    expect((await c.query('SELECT count(*)::int AS n FROM kept')).rows[0].n).toBe(0)
    await c.query('INSERT INTO kept VALUES (2)')
    expect((await c.query('SELECT v FROM kept')).rows).toEqual([{ v: 2 }])
  })

  it('cannot be caught and committed past by PL/pgSQL', async () => {
    const victim = await connect(srv)
    victim.on('error', () => {})
    const e = await failure(
      victim,
      `DO $$ BEGIN
  PERFORM die();
EXCEPTION WHEN OTHERS THEN
  INSERT INTO kept VALUES (99);
END $$`,
    )
    expect([e.severity, e.message]).toEqual(['FATAL', 'goodbye'])
    expect((await c.query('SELECT count(*)::int AS n FROM kept WHERE v = 99')).rows[0].n).toBe(0)
  })

  it('ends a psql session as PostgreSQL does, also for a raised plpy.Fatal', async () => {
    const r = await psql(srv, `SELECT die();\nSELECT 'not reached';\n`)
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(
      'NOTICE:  about to die\nFATAL:  goodbye\nDETAIL:  dd\nHINT:  hh\nCONTEXT:  PL/Python function "die"\n' +
        'server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n' +
        '\tbefore or while processing the request.\nconnection to server was lost\n',
    )
    const d = await psql(srv, `DO $$ raise plpy.Fatal("direct") $$ LANGUAGE plpython3u;\n`)
    expect(d.stderr).toContain(
      'FATAL:  plpy.Fatal: direct\nCONTEXT:  Traceback (most recent call last):\n  PL/Python anonymous code block, line 1, in <module>',
    )
    expect((await c.query(`SELECT 'alive' AS v`)).rows[0].v).toBe('alive')
  })
})

describe('plpy.quote_literal, quote_nullable, quote_ident', () => {
  it('quote exactly as the SQL functions of the same server', async () => {
    const inputs = [
      'abc',
      "it's",
      'back\\slash',
      "both ' and \\",
      '',
      'Mixed',
      'select',
      'user',
      'a b',
      'ünï',
      '"q"',
    ]
    await c.query(`CREATE FUNCTION pyquote(s text) RETURNS text[] LANGUAGE plpython3u AS $$
return [plpy.quote_literal(s), plpy.quote_nullable(s), plpy.quote_ident(s)]
$$`)
    for (const s of inputs) {
      const r = await c.query(
        'SELECT pyquote($1) AS py, ARRAY[quote_literal($1), quote_nullable($1), quote_ident($1)] AS sql',
        [s],
      )
      expect(r.rows[0].py, s).toEqual(r.rows[0].sql)
    }
    const v = await c.query(`DO $$
plpy.notice(repr((plpy.quote_nullable(None), plpy.quote_literal("a\\\\b"), plpy.quote_ident("Ab"))))
$$ LANGUAGE plpython3u`)
    expect(v.command).toBe('DO')
    await c.query('SET quote_all_identifiers = on')
    const all = await c.query(`SELECT pyquote('abc') AS py`)
    await c.query('RESET quote_all_identifiers')
    expect(all.rows[0].py).toEqual(["'abc'", "'abc'", '"abc"'])
  })

  it('rejects what PL/Python rejects', async () => {
    const msgs: string[] = []
    for (const call of ['plpy.quote_literal(None)', 'plpy.quote_ident(1)', 'plpy.quote_literal("a\\0b")']) {
      msgs.push((await failure(c, `DO $py$ ${call} $py$ LANGUAGE plpython3u`)).message)
    }
    expect(msgs).toEqual([
      'TypeError: quote_literal() argument 1 must be str, not None',
      'TypeError: quote_ident() argument 1 must be str, not int',
      'ValueError: embedded null character',
    ])
  })
})
