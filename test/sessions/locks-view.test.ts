// pg_locks lists the sessions' session-level advisory locks (sessions/lockview.ts) as PostgreSQL 15 does:
// the same steps run on pyglite and on the reference server give the same advisory rows (pids mapped to the
// clients that own them), held and awaited, re-entered and released, gone with their session, beside
// PostgreSQL's own rows (a LOCK TABLE's relation lock, the querying transaction's virtualxid). Clients:
// node-postgres, and psycopg 3 + psycopg2 (test/sessions/clients/locks_view_psycopg.py).
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Reference, startReference } from '../helpers/reference.js'
import { ROOT, startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
let ref: Reference
beforeAll(async () => {
  ;[srv, ref] = await Promise.all([startServer(), startReference()])
  for (const url of [srv.url(), ref.url]) {
    const c = await client(url)
    await c.query('CREATE TABLE t(x int)')
    await c.end()
  }
}, 600_000)
afterAll(async () => {
  ref?.stop()
  await srv?.stop()
})

async function client(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url })
  c.on('error', () => {})
  await c.connect()
  return c
}
const pidOf = (c: pg.Client): number => (c as unknown as { processID: number }).processID
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const ADVISORY = `SELECT locktype, database, relation, page, tuple, virtualxid, transactionid, classid, objid,
  objsubid, virtualtransaction, pid, mode, granted, fastpath, waitstart FROM pg_locks WHERE locktype = 'advisory'`

/** A wait-for-blocker query as monitoring pages give it (wiki.postgresql.org "Lock Monitoring"). */
const BLOCKING = `SELECT blocked.pid AS blocked, blocking.pid AS blocking
  FROM pg_locks blocked JOIN pg_locks blocking ON blocking.locktype = blocked.locktype
   AND blocking.database IS NOT DISTINCT FROM blocked.database
   AND blocking.relation IS NOT DISTINCT FROM blocked.relation
   AND blocking.transactionid IS NOT DISTINCT FROM blocked.transactionid
   AND blocking.classid IS NOT DISTINCT FROM blocked.classid
   AND blocking.objid IS NOT DISTINCT FROM blocked.objid
   AND blocking.objsubid IS NOT DISTINCT FROM blocked.objsubid
   AND blocking.pid <> blocked.pid AND blocking.granted
 WHERE NOT blocked.granted`

type Row = Record<string, unknown>

/**
 * One server's run of the steps. Rows are normalized: pid becomes the client's name, virtualtransaction
 * and waitstart (which differ by nature) are checked here and then dropped or made a flag.
 */
async function steps(url: string) {
  const [a, b, c] = [await client(url), await client(url), await client(url)]
  const who = new Map([a, b, c].map((x, i) => [pidOf(x), 'ABC'[i]!]))
  const name = (pid: unknown) => who.get(Number(pid)) ?? `unknown pid ${pid}`
  const snapshot = async (on: pg.Client, t0 = 0): Promise<Row[]> => {
    const rows = (await on.query(ADVISORY)).rows.map((r) => {
      expect(r.virtualtransaction).toMatch(/^-?\d+\/\d+$/)
      if (r.waitstart !== null) {
        expect(r.waitstart).toBeInstanceOf(Date)
        expect(r.waitstart.getTime()).toBeGreaterThanOrEqual(t0 - 1000)
        expect(r.waitstart.getTime()).toBeLessThanOrEqual(Date.now() + 1000)
      }
      const { virtualtransaction: _, ...rest } = r
      return { ...rest, pid: name(r.pid), waitstart: r.waitstart === null ? null : 'set' }
    })
    const order = (r: Row) => `${r.pid} ${r.classid} ${r.objid} ${r.objsubid} ${r.mode} ${r.granted}`
    return rows.sort((x, y) => order(x).localeCompare(order(y)))
  }
  const out: Record<string, unknown> = {}
  try {
    await a.query(
      'SELECT pg_advisory_lock(42), pg_advisory_lock(42), pg_advisory_lock_shared(1, 2), pg_advisory_lock(-2), pg_advisory_lock_shared(-5, 7)',
    )
    out.held = await snapshot(b)
    out.idleVxids = (await c.query(`${ADVISORY} AND pid = $1`, [pidOf(a)])).rows.map(
      (r) => r.virtualtransaction,
    )
    const t0 = Date.now()
    const bGot = b.query("SELECT pg_advisory_lock(42), 'b got 42' AS r")
    for (let i = 0; (await c.query(`${ADVISORY} AND NOT granted`)).rows.length === 0; i++) {
      if (i > 200) throw new Error('b never waited')
      await sleep(20)
    }
    out.waiting = await snapshot(c, t0)
    out.blockingPids = (await c.query('SELECT pg_blocking_pids($1) AS p', [pidOf(b)])).rows[0].p.map(name)
    out.blocking = (await c.query(BLOCKING)).rows.map((r) => [name(r.blocked), name(r.blocking)])
    out.unlock1 = (await a.query('SELECT pg_advisory_unlock(42) AS u')).rows[0].u
    out.once = await snapshot(c) // re-entered: a still holds 42, b still waits
    out.unlock2 = (await a.query('SELECT pg_advisory_unlock(42) AS u')).rows[0].u
    out.bGot = (await bGot).rows[0].r
    out.handed = await snapshot(c)
    await a.end()
    let gone: Row[] = []
    for (let i = 0; i < 200; i++) {
      gone = await snapshot(c) // PostgreSQL's backend exits after the client left
      if (!gone.some((r) => r.pid === 'A')) break
      await sleep(20)
    }
    out.gone = gone
    // PostgreSQL's own rows stay: c's transaction's relation lock and virtualxid, seen by c itself
    await c.query('BEGIN')
    await c.query('LOCK TABLE t')
    await c.query('SELECT pg_advisory_lock(9)')
    out.own = (
      await c.query(
        "SELECT locktype, mode, granted, fastpath FROM pg_locks WHERE relation = 't'::regclass OR (locktype = 'virtualxid' AND virtualxid = virtualtransaction) ORDER BY locktype",
      )
    ).rows
    // its advisory lock taken inside the transaction shows that transaction's virtual transaction
    out.ownVxid = (
      await c.query(
        "SELECT count(*)::int AS n FROM pg_locks a JOIN pg_locks v ON v.locktype = 'virtualxid' AND v.virtualxid = a.virtualtransaction WHERE a.locktype = 'advisory' AND a.objid = 9 AND a.pid = pg_backend_pid()",
      )
    ).rows[0].n
    // and another session sees them while c's transaction is open (pyglite: beside it, turns.ts)
    out.beside = (
      await b.query(
        "SELECT locktype, mode, granted, objid FROM pg_locks WHERE relation = 't'::regclass OR locktype = 'advisory' ORDER BY locktype, objid",
      )
    ).rows
    // PostgreSQL's rows of c's transaction carry c's pid, for c and beside it: a join with pg_stat_activity
    // (monitoring's "who holds the lock on t") finds c's session
    out.ownPid = name((await c.query("SELECT pid FROM pg_locks WHERE relation = 't'::regclass")).rows[0]?.pid)
    out.holder = (
      await b.query(
        "SELECT l.pid, a.state FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.relation = 't'::regclass",
      )
    ).rows.map((r) => [name(r.pid), r.state])
    await c.query('ROLLBACK')
  } finally {
    for (const x of [a, b, c]) await x.end().catch(() => {})
  }
  return { out, pids: { a: pidOf(a), b: pidOf(b), c: pidOf(c) } }
}

const adv = (
  pid: string,
  classid: number,
  objid: number,
  objsubid: number,
  mode: string,
  granted = true,
) => ({
  locktype: 'advisory',
  database: 5,
  relation: null,
  page: null,
  tuple: null,
  virtualxid: null,
  transactionid: null,
  classid,
  objid,
  objsubid,
  pid,
  mode,
  granted,
  fastpath: false,
  waitstart: granted ? null : 'set',
})

describe('pg_locks lists session-level advisory locks', () => {
  it('as PostgreSQL 15 does, step by step (node-postgres)', async () => {
    const mine = await steps(srv.url())
    const theirs = await steps(ref.url)
    const aHolds = [
      adv('A', 0, 42, 1, 'ExclusiveLock'),
      adv('A', 1, 2, 2, 'ShareLock'),
      adv('A', 4294967291, 7, 2, 'ShareLock'),
      adv('A', 4294967295, 4294967294, 1, 'ExclusiveLock'),
    ]
    const bWaits = adv('B', 0, 42, 1, 'ExclusiveLock', false)
    expect(mine.out).toMatchObject({
      held: aHolds,
      waiting: [...aHolds, bWaits],
      blockingPids: ['A'],
      blocking: [['B', 'A']],
      unlock1: true,
      once: [...aHolds, bWaits],
      unlock2: true,
      bGot: 'b got 42',
      handed: [...aHolds.slice(1), adv('B', 0, 42, 1, 'ExclusiveLock')],
      gone: [adv('B', 0, 42, 1, 'ExclusiveLock')],
      own: [
        { locktype: 'relation', mode: 'AccessExclusiveLock', granted: true, fastpath: false },
        { locktype: 'virtualxid', mode: 'ExclusiveLock', granted: true, fastpath: true },
      ],
      ownVxid: 1,
      beside: [
        { locktype: 'advisory', mode: 'ExclusiveLock', granted: true, objid: 9 },
        { locktype: 'advisory', mode: 'ExclusiveLock', granted: true, objid: 42 },
        { locktype: 'relation', mode: 'AccessExclusiveLock', granted: true, objid: null },
      ],
      ownPid: 'C',
      holder: [['C', 'idle in transaction']],
    })
    // an idle session shows '<procNumber>/0' as PostgreSQL's idle backends do; here its pid is the number
    expect(mine.out.idleVxids).toEqual([1, 2, 3, 4].map(() => `${mine.pids.a}/0`))
    expect(theirs.out.idleVxids).toEqual([1, 2, 3, 4].map(() => expect.stringMatching(/^\d+\/0$/)))
    const { idleVxids: _m, ...mineRest } = mine.out
    const { idleVxids: _t, ...theirsRest } = theirs.out
    expect(mineRest).toEqual(theirsRest)
  })

  it('lists the locks of the database queried (each database is its own PGlite)', async () => {
    const admin = await client(srv.url())
    await admin.query('CREATE DATABASE locks_other')
    const there = await client(srv.url('locks_other'))
    const watcher = await client(srv.url('locks_other'))
    try {
      await there.query('SELECT pg_advisory_lock(4711)')
      await admin.query('SELECT pg_advisory_lock(4712)')
      // the database's OID as its own catalog and PostgreSQL's own rows there give it (MyDatabaseId)
      const oid = (await watcher.query('SELECT oid FROM pg_database WHERE datname = current_database()'))
        .rows[0].oid
      const q = `SELECT database, objid, pid FROM pg_locks WHERE locktype = 'advisory' AND objid IN (4711, 4712)`
      expect((await watcher.query(q)).rows).toEqual([{ database: oid, objid: 4711, pid: pidOf(there) }])
      expect((await admin.query(q)).rows).toEqual([{ database: 5, objid: 4712, pid: pidOf(admin) }])
      // the function called in a target list (ProjectSet) lists them too
      const inList = await admin.query(
        'SELECT (l).mode, (l).granted FROM (SELECT pg_lock_status() AS l) s WHERE (l).objid = 4712',
      )
      expect(inList.rows).toEqual([{ mode: 'ExclusiveLock', granted: true }])
    } finally {
      await there.end()
      await watcher.end()
      await admin.end()
    }
  })

  it('the same for psycopg 3 and psycopg2 clients as on PostgreSQL 15', () => {
    const run = (url: string) =>
      JSON.parse(
        execFileSync(
          '/usr/bin/python3',
          [path.join(ROOT, 'test/sessions/clients/locks_view_psycopg.py'), url],
          {
            encoding: 'utf8',
          },
        ),
      )
    const mine = run(srv.url())
    expect(mine).toEqual({
      held: [
        ['advisory', 0, 4242, 1, 'holder', 'ExclusiveLock', true, false, false],
        ['advisory', 7, 8, 2, 'holder', 'ShareLock', true, false, false],
      ],
      waiting: [['advisory', 0, 4242, 1, 'waiter', 'ExclusiveLock', false, false, true]],
      got: true,
      after: [['advisory', 0, 4242, 1, 'waiter', 'ExclusiveLock', true, false, false]],
    })
    expect(mine).toEqual(run(ref.url))
  })
})
