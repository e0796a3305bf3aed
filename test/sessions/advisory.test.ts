// Session-level advisory locks per session, as PostgreSQL keeps them per backend: a lock held by another
// session is not granted (pg_try_advisory_lock false), pg_advisory_lock waits until it is released or its
// holder disconnects (seen in pg_stat_activity as wait_event Lock/advisory), cancel and lock_timeout stop the
// wait, a circle of waits is a deadlock (40P01); 8 clients (node-postgres and postgres.js) incrementing a
// counter under the lock end exact.
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import type pg from 'pg'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectPg } from '../helpers/clients.js'
import { ROOT, startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
beforeAll(async () => {
  srv = await startServer()
  const c = await connect()
  await c.query('CREATE TABLE counter(n int); INSERT INTO counter VALUES (0)')
  await c.end()
})
afterAll(async () => {
  await srv?.stop()
})

const connect = () => connectPg(srv, {}, { quiet: true })
const pidOf = (c: pg.Client): number => (c as unknown as { processID: number }).processID
const one = async (c: pg.Client, sql: string, params: unknown[] = []) =>
  Object.values((await c.query(sql, params)).rows[0])[0]

/** Until session `pid` waits for an advisory lock, as another client sees it. */
async function waitsForLock(watcher: pg.Client, pid: number): Promise<Record<string, unknown>> {
  for (let i = 0; i < 200; i++) {
    const r = await watcher.query(
      'SELECT state, wait_event_type, wait_event, query FROM pg_stat_activity WHERE pid = $1',
      [pid],
    )
    if (r.rows[0]?.wait_event === 'advisory') return r.rows[0]
    await new Promise((res) => setTimeout(res, 20))
  }
  throw new Error(`session ${pid} never waited for an advisory lock`)
}

describe('session-level advisory locks', () => {
  it('are held per session: try_lock, re-entry, shared and exclusive, unlock warnings', async () => {
    const a = await connect()
    const b = await connect()
    const notices: string[] = []
    a.on('notice', (n) => notices.push(`${n.severity} ${n.message}`))
    try {
      await a.query('SELECT pg_advisory_lock(1)')
      expect(await one(b, 'SELECT pg_try_advisory_lock(1)')).toBe(false)
      expect(await one(b, 'SELECT pg_try_advisory_lock(2)')).toBe(true)
      expect(await one(a, 'SELECT pg_try_advisory_lock(1)')).toBe(true) // re-entrant
      expect(await one(b, 'SELECT pg_try_advisory_lock(0, 1)')).toBe(true) // (int, int) keys are another space
      await a.query('SELECT pg_advisory_lock_shared(3)')
      expect(await one(b, 'SELECT pg_try_advisory_lock_shared(3)')).toBe(true)
      expect(await one(b, 'SELECT pg_try_advisory_lock(3)')).toBe(false)
      expect(await one(a, 'SELECT pg_advisory_unlock(1)')).toBe(true)
      expect(await one(b, 'SELECT pg_try_advisory_lock(1)')).toBe(false) // still held once
      expect(await one(a, 'SELECT pg_advisory_unlock(1)')).toBe(true)
      expect(await one(a, 'SELECT pg_advisory_unlock(1)')).toBe(false)
      expect(notices).toEqual(["WARNING you don't own a lock of type ExclusiveLock"])
      expect(await one(b, 'SELECT pg_try_advisory_lock(1)')).toBe(true)
      await a.query('SELECT pg_advisory_unlock_all()')
      // a's shared hold is gone; b's own shared hold is no conflict for b
      expect(await one(b, 'SELECT pg_try_advisory_lock(3)')).toBe(true)
      expect(await one(a, 'SELECT pg_try_advisory_lock_shared(3)')).toBe(false)
    } finally {
      await a.end()
      await b.end()
    }
  })

  it('exclude each other: 8 clients increment a counter under pg_advisory_lock and it ends exact', async () => {
    const N = 25
    const pgs = await Promise.all([0, 1, 2, 3].map(() => connect()))
    const jss = [0, 1, 2, 3].map(() => postgres(srv.url(), { max: 1, onnotice: () => {} }))
    try {
      await pgs[0]!.query('UPDATE counter SET n = 0')
      const viaPg = async (c: pg.Client) => {
        for (let i = 0; i < N; i++) {
          await c.query('SELECT pg_advisory_lock(42)')
          const n = (await c.query('SELECT n FROM counter')).rows[0].n
          await new Promise((r) => setImmediate(r)) // let the others try meanwhile
          await c.query('UPDATE counter SET n = $1', [n + 1])
          await c.query('SELECT pg_advisory_unlock(42)')
        }
      }
      const viaJs = async (sql: postgres.Sql) => {
        for (let i = 0; i < N; i++) {
          await sql`SELECT pg_advisory_lock(42)`
          const [{ n }] = (await sql`SELECT n FROM counter`) as unknown as [{ n: number }]
          await new Promise((r) => setImmediate(r))
          await sql`UPDATE counter SET n = ${n + 1}`
          await sql`SELECT pg_advisory_unlock(42)`
        }
      }
      await Promise.all([...pgs.map(viaPg), ...jss.map(viaJs)])
      expect(await one(pgs[0]!, 'SELECT n FROM counter')).toBe(8 * N)
    } finally {
      for (const c of pgs) await c.end()
      for (const s of jss) await s.end()
    }
  })

  it('make a waiter wait until the holder disconnects, visibly', async () => {
    const holder = await connect()
    const waiter = await connect()
    const watcher = await connect()
    try {
      await holder.query('SELECT pg_advisory_lock(10)')
      const t0 = Date.now()
      const got = waiter.query("SELECT pg_advisory_lock(10), 'got it' AS r")
      expect(await waitsForLock(watcher, pidOf(waiter))).toEqual({
        state: 'active',
        wait_event_type: 'Lock',
        wait_event: 'advisory',
        query: "SELECT pg_advisory_lock(10), 'got it' AS r",
      })
      expect(await one(watcher, 'SELECT pg_blocking_pids($1)', [pidOf(waiter)])).toEqual([pidOf(holder)])
      await new Promise((r) => setTimeout(r, 200))
      await holder.end()
      expect((await got).rows[0].r).toBe('got it')
      expect(Date.now() - t0).toBeGreaterThanOrEqual(200)
      expect(await one(watcher, 'SELECT pg_try_advisory_lock(10)')).toBe(false) // the waiter holds it now
    } finally {
      await waiter.end()
      await watcher.end()
    }
  })

  it('stop waiting on lock_timeout (55P03), statement_timeout and cancel (57014); the session goes on', async () => {
    const holder = await connect()
    const waiter = await connect()
    try {
      await holder.query('SELECT pg_advisory_lock(11)')
      await waiter.query("SET lock_timeout = '300ms'")
      const t0 = Date.now()
      const e = await waiter.query('SELECT pg_advisory_lock(11)').catch((x) => x)
      expect(e).toMatchObject({ code: '55P03', message: 'canceling statement due to lock timeout' })
      expect(Date.now() - t0).toBeGreaterThanOrEqual(290)
      await waiter.query('RESET lock_timeout')
      const waiting = waiter.query('SELECT pg_advisory_lock(11)').catch((x) => x)
      await waitsForLock(holder, pidOf(waiter))
      expect(await one(holder, 'SELECT pg_cancel_backend($1)', [pidOf(waiter)])).toBe(true)
      expect(await waiting).toMatchObject({
        code: '57014',
        message: 'canceling statement due to user request',
      })
      expect(await one(waiter, 'SELECT 40 + 2')).toBe(42)
      expect(await one(waiter, 'SELECT pg_try_advisory_lock(11)')).toBe(false)
      // statement_timeout ends the wait too, whichever of the two comes first (as in PostgreSQL)
      await waiter.query("SET statement_timeout = '300ms'")
      const t1 = Date.now()
      expect(await waiter.query('SELECT pg_advisory_lock(11)').catch((x) => x)).toMatchObject({
        code: '57014',
        message: 'canceling statement due to statement timeout',
      })
      expect(Date.now() - t1).toBeGreaterThanOrEqual(280)
      await waiter.query("SET lock_timeout = '200ms'")
      await waiter.query("SET statement_timeout = '5s'")
      expect(await waiter.query('SELECT pg_advisory_lock(11)').catch((x) => x)).toMatchObject({
        code: '55P03',
        message: 'canceling statement due to lock timeout',
      })
      await waiter.query('RESET statement_timeout; RESET lock_timeout')
      expect(await one(waiter, 'SELECT 40 + 2')).toBe(42)
    } finally {
      await holder.end()
      await waiter.end()
    }
  })

  it('keep a waiter that loses the released lock to the one ahead of it waiting: waitstart and statement_timeout go on', async () => {
    const [holder, first, second, watcher] = [
      await connect(),
      await connect(),
      await connect(),
      await connect(),
    ]
    const waitstart = async () =>
      (
        await watcher.query(
          "SELECT waitstart FROM pg_locks WHERE locktype = 'advisory' AND objid = 21 AND pid = $1 AND NOT granted",
          [pidOf(second)],
        )
      ).rows[0]?.waitstart as Date | undefined
    try {
      await holder.query('SELECT pg_advisory_lock(21)')
      const firstDone = first.query('SELECT pg_advisory_lock(21)')
      await waitsForLock(watcher, pidOf(first))
      await second.query("SET statement_timeout = '1500ms'")
      const t0 = Date.now()
      const secondDone = second.query('SELECT pg_advisory_lock(21)').catch((x) => x)
      await waitsForLock(watcher, pidOf(second))
      const before = await waitstart()
      expect(before).toBeInstanceOf(Date)
      await new Promise((r) => setTimeout(r, 600))
      // released: both waiters are woken, the first takes it, the second waits again
      await holder.query('SELECT pg_advisory_unlock(21)')
      await firstDone
      await waitsForLock(watcher, pidOf(second))
      expect(await waitstart()).toEqual(before)
      // its statement_timeout counts from its start, not from when it began waiting again (~2.1 s)
      expect(await secondDone).toMatchObject({
        code: '57014',
        message: 'canceling statement due to statement timeout',
      })
      expect(Date.now() - t0).toBeLessThan(1950)
      await second.query('RESET statement_timeout')
      await first.query('SELECT pg_advisory_unlock(21)')
    } finally {
      await Promise.all([holder.end(), first.end(), second.end(), watcher.end()])
    }
  })

  it('let a transaction block that only began wait (psycopg sends BEGIN alone), then go on in it', async () => {
    const a = await connect()
    const b = await connect()
    try {
      await a.query('SELECT pg_advisory_lock(31)')
      await b.query('BEGIN ISOLATION LEVEL REPEATABLE READ')
      const got = b.query("SELECT pg_advisory_lock(31), current_setting('transaction_isolation') AS iso")
      await waitsForLock(a, pidOf(b))
      await a.query('UPDATE counter SET n = 777') // committed while b waits: b's snapshot comes later
      await a.query('SELECT pg_advisory_unlock(31)')
      expect((await got).rows[0].iso).toBe('repeatable read')
      expect(await one(b, 'SELECT n FROM counter')).toBe(777)
      await b.query('UPDATE counter SET n = 0')
      await b.query('ROLLBACK') // the block is the client's: its ROLLBACK undoes its work
      expect(await one(a, 'SELECT n FROM counter')).toBe(777)
      expect(await one(a, 'SELECT pg_try_advisory_lock(31)')).toBe(false) // session-level: b keeps it
    } finally {
      await a.end()
      await b.end()
    }
  })

  it('work for psycopg without autocommit: the wait is seen, the lock comes inside its transaction', () => {
    const out = execFileSync(
      '/usr/bin/python3',
      [path.join(ROOT, 'test/sessions/clients/advisory_psycopg.py'), srv.url()],
      { encoding: 'utf8' },
    )
    expect(JSON.parse(out)).toEqual({
      seen: 'advisory',
      waited_enough: true,
      status: 'INTRANS',
      holder_try: false,
    })
  })

  it('detect deadlocks: a circle of waits, and a wait inside a transaction block (40P01)', async () => {
    const a = await connect()
    const b = await connect()
    try {
      await a.query('SELECT pg_advisory_lock(21)')
      await b.query('SELECT pg_advisory_lock(22)')
      const aWaits = a.query("SELECT pg_advisory_lock(22), 'a got 22' AS r")
      await waitsForLock(b, pidOf(a))
      const e = await b.query('SELECT pg_advisory_lock(21)').catch((x) => x)
      expect(e).toMatchObject({ code: '40P01', message: 'deadlock detected' })
      expect(e.detail).toMatch(
        new RegExp(
          `^Process ${pidOf(b)} waits for ExclusiveLock on advisory lock \\[\\d+,0,21,1\\]; blocked by process ${pidOf(a)}\\.\nProcess ${pidOf(a)} waits for ExclusiveLock on advisory lock \\[\\d+,0,22,1\\]; blocked by process ${pidOf(b)}\\.$`,
        ),
      )
      await b.query('SELECT pg_advisory_unlock(22)')
      expect((await aWaits).rows[0].r).toBe('a got 22')
      // inside a transaction block that did something, the waiter would hold the turn its holder needs:
      // reported at once
      await b.query('BEGIN')
      await b.query('SELECT 1')
      const t = await b.query('SELECT pg_advisory_lock(21)').catch((x) => x)
      expect(t).toMatchObject({ code: '40P01', message: 'deadlock detected' })
      expect(t.detail).toContain('open transaction block')
      await b.query('ROLLBACK')
      // transaction-level advisory locks are PostgreSQL's: a transaction holds the backend until it ends
      await b.query('BEGIN')
      expect(await one(b, 'SELECT pg_try_advisory_xact_lock(99)')).toBe(true)
      await b.query('COMMIT')
    } finally {
      await a.end()
      await b.end()
    }
  })
})
