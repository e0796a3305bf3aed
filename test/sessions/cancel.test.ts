// Cancel and timeouts with real clients: a CancelRequest stops SQL, a pure-Python loop and a Python sleep
// within a second with 57014 (psql SIGINT, psycopg 3 conn.cancel(), pgJDBC Statement.cancel()), the session
// stays usable; statement_timeout says so in its message; a command waiting for its turn can be
// cancelled, and its statement_timeout ends the wait; idle_in_transaction_session_timeout ends the idle holder with FATAL 25P03 and lets others on.
import { execFileSync, spawn } from 'node:child_process'
import path from 'node:path'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cancelClient, connectPg, runJdbcProgram } from '../helpers/clients.js'
import { ROOT, startServer, type TestServer } from '../helpers/server.js'

const HERE = path.join(ROOT, 'test/sessions/clients')
const LONG = {
  pg_sleep: 'SELECT pg_sleep(60)',
  py_loop: 'SELECT py_loop()',
  py_sleep: 'SELECT py_sleep()',
}
let srv: TestServer
beforeAll(async () => {
  srv = await startServer()
  const c = await connect()
  await c.query(`CREATE FUNCTION py_loop() RETURNS int LANGUAGE plpython3u AS $$
while True:
    pass
$$`)
  await c.query(`CREATE FUNCTION py_sleep() RETURNS int LANGUAGE plpython3u AS $$
import time
time.sleep(60)
$$`)
  await c.end()
})
afterAll(async () => {
  await srv?.stop()
})

const connect = (extra: Partial<pg.ClientConfig> = {}) => connectPg(srv, extra)

describe('cancel', () => {
  it('is 57014 wherever it lands, also in the lookup and compilation of a first call (never XX000)', async () => {
    const c = await connect()
    const N = 100
    try {
      for (let i = 0; i < N; i++)
        await c.query(`CREATE FUNCTION first_call_${i}() RETURNS int LANGUAGE plpython3u AS $$
import time
t = time.time()
while time.time() - t < 0.03:
    pass
return ${i}
$$`)
      const codes = new Map<string, number>()
      for (let i = 0; i < N; i++) {
        // a first call looks the function up and compiles it before it runs: cancels spread over the
        // first milliseconds land there too (a signal raised before pyglite_host's own try block)
        const p = c.query(`SELECT first_call_${i}()`).then(
          () => 'ok',
          (e: pg.DatabaseError) => `${e.code} ${e.message}`,
        )
        await new Promise((r) => setTimeout(r, (i % 10) * 0.3))
        await cancelClient(srv, c)
        const r = await p
        codes.set(r, (codes.get(r) ?? 0) + 1)
      }
      const outcomes = [...codes.keys()]
      expect(
        outcomes.filter((k) => k !== 'ok' && k !== '57014 canceling statement due to user request'),
      ).toEqual([])
      expect(codes.get('57014 canceling statement due to user request') ?? 0).toBeGreaterThan(N / 2)
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    } finally {
      await c.end()
    }
  }, 120_000)

  it('psql: SIGINT stops SQL, a Python loop and a Python sleep within a second (57014)', async () => {
    for (const [name, sql] of Object.entries(LONG)) {
      const p = spawn('psql', ['-X', '-At', '-d', srv.url(), '-c', sql])
      let err = ''
      p.stderr.on('data', (d) => {
        err += d
      })
      // psql must be connected and its statement running (a loaded machine takes a while to start psql)
      await new Promise((r) => setTimeout(r, 1500))
      const t0 = Date.now()
      p.kill('SIGINT')
      const code = await new Promise((r) => p.on('close', r))
      // includes psql's own cancel connection and its exit: on this shared 2-core box (loadavg ~20) that
      // alone can take several hundred ms; the drivers below measure the statement's end within 1 s
      expect(Date.now() - t0, `${name}: ${err}`).toBeLessThan(2000)
      expect(err, name).toContain('ERROR:  canceling statement due to user request')
      expect(code, name).toBe(1)
    }
  })

  it('node-postgres: a CancelRequest leaves the session usable, and another session untouched', async () => {
    const a = await connect()
    const b = await connect()
    await a.query("SET work_mem = '5MB'")
    for (const sql of Object.values(LONG)) {
      const q = a.query(sql).catch((e) => e)
      await new Promise((r) => setTimeout(r, 300))
      const t0 = Date.now()
      await cancelClient(srv, a)
      const e = await q
      expect(Date.now() - t0).toBeLessThan(1000)
      expect([e.code, e.message]).toEqual(['57014', 'canceling statement due to user request'])
      expect((await a.query("SELECT current_setting('work_mem') AS wm")).rows).toEqual([{ wm: '5MB' }])
    }
    // a cancel of b (idle) does nothing to a's running statement
    const slow = a.query('SELECT true AS done FROM pg_sleep(0.5)')
    await new Promise((r) => setTimeout(r, 100))
    await cancelClient(srv, b)
    expect((await slow).rows).toEqual([{ done: true }])
    expect((await b.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    await Promise.all([a.end(), b.end()])
  })

  it('psycopg 3: conn.cancel() and statement_timeout', () => {
    const out = execFileSync('/usr/bin/python3', [path.join(HERE, 'cancel_psycopg.py'), srv.url()], {
      encoding: 'utf8',
    })
    const r = JSON.parse(out)
    for (const name of Object.keys(LONG)) {
      expect(r[name].slice(0, 2), name).toEqual(['57014', 'canceling statement due to user request'])
      expect(r[name][2], name).toBeLessThan(1)
      expect(r[`${name}_after`], name).toBe(42)
    }
    expect(r.timeout).toEqual(['57014', 'canceling statement due to statement timeout'])
    expect(r.timeout_after).toBe('0')
  })

  it('pgJDBC: Statement.cancel() and setQueryTimeout', () => {
    const kv = runJdbcProgram(srv, path.join(HERE, 'JdbcCancel.java'), 'JdbcCancel')
    for (const sql of Object.values(LONG)) {
      expect(kv[sql], sql).toBe('57014|ERROR: canceling statement due to user request|fast')
      expect(kv[`${sql}.after`], sql).toBe('42')
    }
    expect(kv.querytimeout).toBe('57014')
  }, 120_000)

  it('cancels a command that waits for its turn behind another client’s transaction', async () => {
    const a = await connect()
    const b = await connect()
    await a.query('BEGIN')
    await a.query('SELECT 1')
    const waiting = b.query('SELECT 2 AS two').catch((e) => e)
    await new Promise((r) => setTimeout(r, 300))
    const t0 = Date.now()
    await cancelClient(srv, b)
    const e = await waiting
    expect(Date.now() - t0).toBeLessThan(1000)
    expect([e.code, e.message]).toEqual(['57014', 'canceling statement due to user request'])
    // a's transaction is untouched and b is usable once it ends
    expect((await a.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }])
    const next = b.query('SELECT 4 AS four')
    await a.query('COMMIT')
    expect((await next).rows).toEqual([{ four: 4 }])
    await Promise.all([a.end(), b.end()])
  })
})

describe('timeouts', () => {
  it('statement_timeout stops SQL and Python with "canceling statement due to statement timeout"', async () => {
    const a = await connect()
    const b = await connect()
    await a.query("SET statement_timeout = '300ms'")
    for (const sql of Object.values(LONG)) {
      const t0 = Date.now()
      const e = await a.query(sql).catch((x) => x)
      expect(Date.now() - t0, sql).toBeLessThan(1300)
      expect([e.code, e.message], sql).toEqual(['57014', 'canceling statement due to statement timeout'])
    }
    // only a's statements are timed
    expect((await b.query('SELECT true AS done FROM pg_sleep(0.6)')).rows).toEqual([{ done: true }])
    await a.query('RESET statement_timeout')
    expect((await a.query('SELECT true AS done FROM pg_sleep(0.4)')).rows).toEqual([{ done: true }])
    await Promise.all([a.end(), b.end()])
  })

  it('statement_timeout ends a command that waits for its turn behind another client’s transaction', async () => {
    const a = await connect()
    // set in the start-up packet (a reset value of its own) and by SET: both count while it waits
    const b = await connect({ options: '-c statement_timeout=400' })
    const c = await connect()
    await c.query("SET statement_timeout = '250ms'")
    await a.query('BEGIN')
    await a.query('SELECT 1')
    for (const [who, client, ms] of [
      ['b', b, 400],
      ['c', c, 250],
    ] as const) {
      const t0 = Date.now()
      const e = await client.query('SELECT 2 AS two').catch((x) => x)
      const waited = Date.now() - t0
      expect([e.code, e.message], who).toEqual(['57014', 'canceling statement due to statement timeout'])
      expect(waited, who).toBeGreaterThanOrEqual(ms - 20)
    }
    // a's transaction is untouched; the others go on once it ends
    expect((await a.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }])
    const next = b.query('SELECT 4 AS four')
    await a.query('COMMIT')
    expect((await next).rows).toEqual([{ four: 4 }])
    expect((await c.query('SELECT 5 AS five')).rows).toEqual([{ five: 5 }])
    await Promise.all([a.end(), b.end(), c.end()])
  })

  it('idle_in_transaction_session_timeout: default 1min; FATAL 25P03, its work rolled back, others go on', async () => {
    const a = await connect()
    const b = await connect()
    expect((await b.query('SHOW idle_in_transaction_session_timeout')).rows).toEqual([
      { idle_in_transaction_session_timeout: '1min' },
    ])
    await b.query('CREATE TABLE idle_t(v int)')
    await a.query("SET idle_in_transaction_session_timeout = '500ms'")
    const fatal = new Promise<Error>((resolve) => a.on('error', resolve))
    await a.query('BEGIN')
    await a.query('INSERT INTO idle_t VALUES (1)')
    const t0 = Date.now()
    // b waits for a's transaction, which the timeout ends
    expect((await b.query('SELECT count(*)::int AS n FROM idle_t')).rows).toEqual([{ n: 0 }])
    expect(Date.now() - t0).toBeGreaterThan(300)
    const e = (await fatal) as Error & { code?: string; severity?: string }
    expect([e.code, e.severity, e.message]).toEqual([
      '25P03',
      'FATAL',
      'terminating connection due to idle-in-transaction timeout',
    ])
    await b.end()
  })
})
