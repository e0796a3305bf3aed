// A client's CancelRequest that arrives while a plpy call runs SQL: PostgreSQL raises its 57014 there, and
// PL/Python lets the function catch it as plpy.spiexceptions.QueryCanceled (an SPIError) and go on with more
// queries. The same functions run on pyglite and on a PostgreSQL 15 + plpython3u started for this file;
// both must answer alike. (statement_timeout inside plpy calls: oracle file plpython_errors3.)
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cancelClient } from '../helpers/clients.js'
import { type Reference, startReference } from '../helpers/reference.js'
import { startServer, type TestServer } from '../helpers/server.js'

let glite: TestServer
let ref: Reference
beforeAll(async () => {
  const [g, r] = await Promise.all([startServer(), startReference()])
  glite = g
  ref = r
}, 600_000)
afterAll(async () => {
  ref?.stop()
  await glite?.stop()
})

const FUNCTIONS = [
  `CREATE OR REPLACE FUNCTION catch_cancel() RETURNS text LANGUAGE plpython3u AS $$
try:
    plpy.execute('select pg_sleep(30)')
except plpy.spiexceptions.QueryCanceled as e:
    return 'caught %s %s: %s' % (type(e).__name__, e.sqlstate, e)
$$`,
  `CREATE OR REPLACE FUNCTION catch_then_query() RETURNS text LANGUAGE plpython3u AS $$
try:
    plpy.execute('select pg_sleep(30)')
except plpy.SPIError as e:
    first = e.sqlstate
return '%s then %s' % (first, plpy.execute('select 6 * 7 as x')[0]['x'])
$$`,
  `CREATE OR REPLACE FUNCTION uncaught_cancel() RETURNS void LANGUAGE plpython3u AS $$
plpy.execute('select pg_sleep(30)')
$$`,
]

/** Run `sql` on a fresh connection, cancel it after 500 ms; the value or the error's code, message, context. */
async function cancelled(url: string, sql: string): Promise<unknown> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    for (const f of FUNCTIONS) await c.query(f)
    const u = new URL(url)
    // the outcome's handlers are attached at once: the error may arrive while the cancel is still being sent
    const running = c.query(sql).then(
      (r) => ({ value: Object.values(r.rows[0] as object)[0] }),
      (e: pg.DatabaseError) => ({ code: e.code, message: e.message, where: e.where }),
    )
    await new Promise((r) => setTimeout(r, 500))
    await cancelClient({ host: u.hostname, port: Number(u.port) } as TestServer, c)
    const out = await running
    // the session goes on
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    return out
  } finally {
    await c.end()
  }
}

describe('a cancel inside a plpy call, as PostgreSQL raises it', () => {
  it('is caught as plpy.spiexceptions.QueryCanceled', async () => {
    const a = await cancelled(glite.url(), 'SELECT catch_cancel()')
    expect(a).toEqual({ value: 'caught QueryCanceled 57014: canceling statement due to user request' })
    expect(await cancelled(ref.url, 'SELECT catch_cancel()')).toEqual(a)
  }, 60_000)

  it('once caught, the function goes on running queries', async () => {
    const a = await cancelled(glite.url(), 'SELECT catch_then_query()')
    expect(a).toEqual({ value: '57014 then 42' })
    expect(await cancelled(ref.url, 'SELECT catch_then_query()')).toEqual(a)
  }, 60_000)

  it('uncaught, it reaches the client as spiexceptions.QueryCanceled with the traceback', async () => {
    const a = await cancelled(glite.url(), 'SELECT uncaught_cancel()')
    expect(a).toEqual({
      code: '57014',
      message: 'spiexceptions.QueryCanceled: canceling statement due to user request',
      where:
        'Traceback (most recent call last):\n  PL/Python function "uncaught_cancel", line 2, in <module>\n' +
        '    plpy.execute(\'select pg_sleep(30)\')\nPL/Python function "uncaught_cancel"',
    })
    expect(await cancelled(ref.url, 'SELECT uncaught_cancel()')).toEqual(a)
  }, 60_000)
})
