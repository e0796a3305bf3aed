// Every client session looks like a backend of its own to monitoring and admin functions: pg_backend_pid()
// is the BackendKeyData process id (pg, postgres.js, psycopg, pgJDBC), pg_stat_activity lists every session
// with its user, database, application_name, client address and port, state, query and — for a session
// waiting for another's transaction — wait_event Lock/transactionid, seen by a third client while it waits;
// pg_terminate_backend / pg_cancel_backend act on those sessions with PostgreSQL 18's permission rules.
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import type pg from 'pg'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectPg, runJdbcProgram } from '../helpers/clients.js'
import { ROOT, startServer, type TestServer } from '../helpers/server.js'

const HERE = path.join(ROOT, 'test/sessions/clients')
let srv: TestServer
beforeAll(async () => {
  srv = await startServer()
  const c = await connect()
  await c.query(`CREATE TABLE acct(id int PRIMARY KEY, n int);
    INSERT INTO acct VALUES (1, 0);
    CREATE ROLE plain LOGIN; CREATE ROLE plain2 LOGIN; CREATE ROLE signaller LOGIN IN ROLE pg_signal_backend;
    GRANT ALL ON acct TO plain`)
  await c.end()
})
afterAll(async () => {
  await srv?.stop()
})

// a terminated client's socket error is asserted through its query
const connect = (extra: Partial<pg.ClientConfig> = {}) => connectPg(srv, extra, { quiet: true })
const pidOf = (c: pg.Client): number => (c as unknown as { processID: number }).processID

type Row = Record<string, string | number | null>
async function activity(c: pg.Client, where = ''): Promise<Row[]> {
  const r = await c.query(
    `SELECT pid, usename, datname, application_name, client_addr::text AS addr, client_port, backend_type, state,
            wait_event_type, wait_event, query, backend_start IS NOT NULL AS started, xact_start IS NOT NULL AS in_xact
       FROM pg_stat_activity ${where} ORDER BY pid`,
  )
  return r.rows
}

/** Wait until `cond` holds for what a monitoring client sees (the waiter's input reaches the engine). */
async function until(c: pg.Client, cond: (rows: Row[]) => boolean): Promise<Row[]> {
  for (let i = 0; i < 200; i++) {
    const rows = await activity(c)
    if (cond(rows)) return rows
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`condition never held: ${JSON.stringify(await activity(c))}`)
}

describe('pg_backend_pid and pg_stat_activity', () => {
  it('give each client its BackendKeyData process id (pg, postgres.js, psycopg, pgJDBC)', async () => {
    const a = await connect({ application_name: 'app-a' })
    const sql = postgres(srv.url(), { max: 1, onnotice: () => {} })
    try {
      const mine = (await a.query('SELECT pg_backend_pid() AS p')).rows[0].p
      expect(mine).toBe(pidOf(a))
      const jsPid = (await sql`SELECT pg_backend_pid() AS p`)[0]!.p
      const py = JSON.parse(
        execFileSync(
          '/usr/bin/python3',
          [
            '-c',
            `import json, sys, psycopg
with psycopg.connect(sys.argv[1]) as c:
    print(json.dumps([c.info.backend_pid, c.execute("SELECT pg_backend_pid()").fetchone()[0]]))`,
            srv.url(),
          ],
          { encoding: 'utf8' },
        ),
      )
      expect(py[0]).toBe(py[1])
      const j = runJdbcProgram(srv, path.join(HERE, 'JdbcBackendPid.java'), 'JdbcBackendPid')
      expect(j.driver).toBe(j.sql)
      const pids = new Set([mine, jsPid, py[0], Number(j.sql)])
      expect(pids.size).toBe(4) // four sessions, four pids
      const rows = await activity(a)
      const me = rows.find((r) => r.pid === mine)!
      expect(me).toMatchObject({
        usename: 'postgres',
        datname: 'postgres',
        application_name: 'app-a',
        addr: '127.0.0.1/32',
        backend_type: 'client backend',
        state: 'active',
        query: expect.stringContaining('FROM pg_stat_activity'),
        wait_event_type: null,
        started: true,
        in_xact: true,
      })
      const stream = (a as unknown as { connection: { stream: { localPort: number; remotePort: number } } })
        .connection.stream
      expect(me.client_port).toBe(stream.localPort)
      // network.c's functions: this connection's two ends (PGlite's backend has one made-up port of its own)
      const ends = await a.query(
        'SELECT host(inet_client_addr()) AS ca, inet_client_port() AS cp, host(inet_server_addr()) AS sa, inet_server_port() AS sp',
      )
      expect(ends.rows[0]).toEqual({
        ca: '127.0.0.1',
        cp: stream.localPort,
        sa: '127.0.0.1',
        sp: stream.remotePort,
      })
      const js = rows.find((r) => r.pid === jsPid)!
      expect(js).toMatchObject({ state: 'idle', query: 'SELECT pg_backend_pid() AS p', in_xact: false })
      expect(rows.some((r) => r.pid === py[0])).toBe(false) // psycopg and pgJDBC disconnected
      expect(rows.some((r) => r.pid === 42)).toBe(false)
      // one row by pid, and none for a pid that is no session
      expect(
        (await a.query('SELECT count(*)::int AS n FROM pg_stat_get_activity($1)', [jsPid])).rows[0].n,
      ).toBe(1)
      expect((await a.query('SELECT count(*)::int AS n FROM pg_stat_get_activity(12345678)')).rows[0].n).toBe(
        0,
      )
    } finally {
      await a.end()
      await sql.end()
    }
  })

  it("shows a session waiting for another one's transaction to a third client while it waits", async () => {
    const holder = await connect({ application_name: 'holder' })
    const waiter = await connect({ application_name: 'waiter' })
    const watcher = await connect()
    try {
      await holder.query('BEGIN')
      await holder.query('UPDATE acct SET n = n + 1 WHERE id = 1')
      const waiting = waiter.query('UPDATE acct SET n = n + 10 WHERE id = 1 RETURNING n')
      const rows = await until(watcher, (rs) =>
        rs.some((r) => r.pid === pidOf(waiter) && r.state === 'active'),
      )
      expect(rows.find((r) => r.pid === pidOf(holder))).toMatchObject({
        state: 'idle in transaction',
        query: 'UPDATE acct SET n = n + 1 WHERE id = 1',
        in_xact: true,
        wait_event_type: null,
      })
      expect(rows.find((r) => r.pid === pidOf(waiter))).toMatchObject({
        application_name: 'waiter',
        state: 'active',
        wait_event_type: 'Lock',
        wait_event: 'transactionid',
        query: 'UPDATE acct SET n = n + 10 WHERE id = 1 RETURNING n',
      })
      const blocked = await watcher.query('SELECT pg_blocking_pids($1) AS b, pg_blocking_pids($2) AS h', [
        pidOf(waiter),
        pidOf(holder),
      ])
      expect(blocked.rows[0]).toEqual({ b: [pidOf(holder)], h: [] })
      await holder.query('COMMIT')
      expect((await waiting).rows[0].n).toBe(11)
      const after = await activity(watcher)
      expect(after.find((r) => r.pid === pidOf(waiter))).toMatchObject({
        state: 'idle',
        wait_event_type: null,
      })
    } finally {
      await Promise.all([holder.end(), waiter.end(), watcher.end()])
    }
  })
})

describe('pg_terminate_backend and pg_cancel_backend', () => {
  it('end the idle transaction everyone waits for: FATAL 57P01, its work rolled back, the waiter goes on', async () => {
    const admin = await connect()
    const holder = await connect()
    const waiter = await connect()
    try {
      await admin.query('UPDATE acct SET n = 0 WHERE id = 1')
      await holder.query('BEGIN')
      await holder.query('UPDATE acct SET n = 1000 WHERE id = 1')
      const waiting = waiter.query('UPDATE acct SET n = n + 1 WHERE id = 1 RETURNING n')
      await until(admin, (rs) => rs.some((r) => r.pid === pidOf(waiter) && r.wait_event_type === 'Lock'))
      const r = await admin.query(
        "SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity WHERE state = 'idle in transaction'",
      )
      expect(r.rows).toEqual([{ t: true }])
      expect((await waiting).rows[0].n).toBe(1) // the holder's 1000 was rolled back
      const e = await holder.query('SELECT 1').catch((x) => x)
      expect(e).toBeInstanceOf(Error)
      const gone = await activity(admin)
      expect(gone.some((x) => x.pid === pidOf(holder))).toBe(false)
    } finally {
      await Promise.all([admin.end(), holder.end().catch(() => {}), waiter.end()])
    }
  })

  it('end an idle session with FATAL 57P01 on its own connection (node-postgres sees the error)', async () => {
    const admin = await connect()
    const victim = await connect()
    const errors: Error[] = []
    victim.on('error', (e) => errors.push(e))
    try {
      expect((await admin.query('SELECT pg_terminate_backend($1) AS t', [pidOf(victim)])).rows[0].t).toBe(
        true,
      )
      for (let i = 0; i < 100 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 20))
      expect(errors[0]).toMatchObject({
        code: '57P01',
        severity: 'FATAL',
        message: 'terminating connection due to administrator command',
      })
    } finally {
      await admin.end()
    }
  })

  it('end itself: FATAL 57P01 instead of a result, and the transaction is rolled back', async () => {
    const c = await connect()
    const admin = await connect()
    try {
      await admin.query('UPDATE acct SET n = 5 WHERE id = 1')
      await c.query('BEGIN')
      await c.query('UPDATE acct SET n = 6 WHERE id = 1')
      const e = await c.query('SELECT pg_terminate_backend(pg_backend_pid())').catch((x) => x)
      expect(e).toMatchObject({ code: '57P01', severity: 'FATAL' })
      expect((await admin.query('SELECT n FROM acct WHERE id = 1')).rows[0].n).toBe(5)
    } finally {
      await admin.end()
      await c.end().catch(() => {})
    }
  })

  it('cancel a command waiting for its turn (57014), and its own statement', async () => {
    const admin = await connect()
    const holder = await connect()
    const waiter = await connect()
    try {
      await holder.query('BEGIN')
      const waiting = waiter.query('SELECT 1 AS one').catch((x) => x)
      await until(admin, (rs) => rs.some((r) => r.pid === pidOf(waiter) && r.wait_event_type === 'Lock'))
      expect((await admin.query('SELECT pg_cancel_backend($1) AS t', [pidOf(waiter)])).rows[0].t).toBe(true)
      expect(await waiting).toMatchObject({
        code: '57014',
        message: 'canceling statement due to user request',
      })
      await holder.query('COMMIT')
      expect((await waiter.query('SELECT 2 AS two')).rows[0].two).toBe(2)
      const self = await admin
        .query('SELECT pg_cancel_backend(pg_backend_pid()), pg_sleep(5)')
        .catch((x) => x)
      expect(self).toMatchObject({ code: '57014', message: 'canceling statement due to user request' })
    } finally {
      await Promise.all([admin.end(), holder.end(), waiter.end()])
    }
  })

  it('follow PostgreSQL 18 permission rules and messages', async () => {
    const su = await connect()
    const plain = await connect({ user: 'plain' })
    const plainToo = await connect({ user: 'plain' })
    const other = await connect({ user: 'plain2' })
    const signaller = await connect({ user: 'signaller' })
    const notices: string[] = []
    su.on('notice', (n) => notices.push(`${n.severity} ${n.code} ${n.message}`))
    try {
      const deny = await plain.query('SELECT pg_terminate_backend($1)', [pidOf(su)]).catch((x) => x)
      expect(deny).toMatchObject({
        code: '42501',
        message: 'permission denied to terminate process',
        detail:
          'Only roles with the SUPERUSER attribute may terminate processes of roles with the SUPERUSER attribute.',
      })
      const deny2 = await other.query('SELECT pg_cancel_backend($1)', [pidOf(plain)]).catch((x) => x)
      expect(deny2).toMatchObject({
        code: '42501',
        message: 'permission denied to cancel query',
        detail:
          'Only roles with privileges of the role whose query is being canceled or with privileges of the "pg_signal_backend" role may cancel this query.',
      })
      // plain2 sees plain's session, but not what it does
      const seen = (await activity(other)).find((r) => r.pid === pidOf(plain))!
      expect(seen).toMatchObject({ usename: 'plain', query: '<insufficient privilege>', state: null })
      // the same role may; pg_signal_backend may (not a superuser's session)
      expect((await plainToo.query('SELECT pg_cancel_backend($1) AS t', [pidOf(plain)])).rows[0].t).toBe(true)
      expect((await signaller.query('SELECT pg_terminate_backend($1) AS t', [pidOf(plain)])).rows[0].t).toBe(
        true,
      )
      expect((await su.query('SELECT pg_terminate_backend(987654) AS t')).rows[0].t).toBe(false)
      expect(notices).toEqual(['WARNING 01000 PID 987654 is not a PostgreSQL backend process'])
      const neg = await su.query('SELECT pg_terminate_backend($1, -1)', [pidOf(other)]).catch((x) => x)
      expect(neg).toMatchObject({ code: '22003', message: '"timeout" must not be negative' })
      expect((await su.query('SELECT pg_terminate_backend($1, 1000) AS t', [pidOf(other)])).rows[0].t).toBe(
        true,
      )
    } finally {
      for (const c of [su, plain, plainToo, other, signaller]) await c.end().catch(() => {})
    }
  })

  it('terminate and cancel by pid for psycopg, postgres.js and pgJDBC sessions', async () => {
    const py = execFileSync('/usr/bin/python3', [path.join(HERE, 'terminate_psycopg.py'), srv.url()], {
      encoding: 'utf8',
    })
    expect(JSON.parse(py)).toEqual({
      cancel: ['57014', 'canceling statement due to user request'],
      terminated: [
        'OperationalError',
        'consuming input failed: terminating connection due to administrator command',
      ],
    })
    const admin = await connect()
    const sql = postgres(srv.url(), { max: 1, onnotice: () => {} })
    try {
      const p = (await sql`SELECT pg_backend_pid() AS p`)[0]!.p
      expect((await admin.query('SELECT pg_terminate_backend($1) AS t', [p])).rows[0].t).toBe(true)
      // as against PostgreSQL 15: the next query may find the connection closed (if postgres.js has not
      // seen the FATAL and the close yet), then postgres.js reconnects: a new session, a new pid
      const first = await sql`SELECT pg_backend_pid() AS p`.catch((e) => e)
      if (first instanceof Error) expect(first).toMatchObject({ code: 'CONNECTION_CLOSED' })
      const p2 = (await sql`SELECT pg_backend_pid() AS p`)[0]!.p
      expect(p2).not.toBe(p)
    } finally {
      await admin.end()
      await sql.end()
    }
    const j = runJdbcProgram(srv, path.join(HERE, 'JdbcTerminate.java'), 'JdbcTerminate')
    expect(j).toEqual({ terminated: 'true', state: '57P01', cancelState: '57014' })
  })
})
