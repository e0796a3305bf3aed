// Several sessions at once, step by step, on pyglite and on the reference PostgreSQL 15: the same script
// (client A does X, then B does Y while A's transaction is open, …) gives the same transcript of rows,
// SQLSTATEs and which statement waits on both. Only scenarios where pyglite's shared backend could differ
// from PostgreSQL's backends and that no other test covers (docs/sessions.md).
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Reference, startReference } from '../helpers/reference.js'
import { startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
let ref: Reference
beforeAll(async () => {
  ;[srv, ref] = await Promise.all([startServer(), startReference()])
}, 600_000)
afterAll(async () => {
  ref?.stop()
  await srv?.stop()
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A fresh database on both servers for one scenario; returns the connection URLs. */
async function databases(name: string, setup: string): Promise<string[]> {
  const urls: string[] = []
  for (const admin of [srv.url(), ref.url]) {
    const c = new pg.Client({ connectionString: admin })
    await c.connect()
    await c.query(`DROP DATABASE IF EXISTS ${name}`)
    await c.query(`CREATE DATABASE ${name}`)
    await c.end()
    const url = admin.replace(/\/[^/]*$/, `/${name}`)
    const s = new pg.Client({ connectionString: url })
    await s.connect()
    await s.query(setup)
    await s.end()
    urls.push(url)
  }
  return urls
}

/** One server's run of a script: the clients it asks for, and a transcript line per step. */
class Run {
  readonly log: string[] = []
  private readonly clients: pg.Client[] = []
  constructor(private readonly url: string) {}

  async client(): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: this.url })
    c.on('error', () => {})
    await c.connect()
    this.clients.push(c)
    return c
  }

  /** statements that waited, by client tag: wait() puts their result into the transcript */
  private readonly waiting = new Map<string, Promise<string>>()

  /**
   * Send `sql` on `c`; its result (rows, or the SQLSTATE) goes into the transcript, or "waits" if none came
   * within `ms` (then wait(tag) takes its result later).
   */
  async send(tag: string, c: pg.Client, sql: string, params?: unknown[], ms = 400): Promise<void> {
    const p = c.query(sql, params).then(
      (r) => `${r.command} ${JSON.stringify(r.rows)}`,
      (e: { code?: string }) => `ERROR ${e.code}`,
    )
    const first = await Promise.race([p, sleep(ms).then(() => 'waits')])
    this.log.push(`${tag}: ${first}`)
    if (first === 'waits') this.waiting.set(tag, p)
  }

  /** The result of tag's waiting statement once it came, or "still waits" after `ms`. */
  async wait(tag: string, ms = 5000): Promise<void> {
    const p = this.waiting.get(tag)
    const got = p ? await Promise.race([p, sleep(ms).then(() => 'still waits')]) : 'nothing'
    if (got !== 'still waits') this.waiting.delete(tag)
    this.log.push(`${tag} then: ${got}`)
  }

  note(line: string): void {
    this.log.push(line)
  }

  async end(): Promise<string[]> {
    await sleep(100)
    for (const c of this.clients) await c.end().catch(() => {})
    return this.log
  }
}

/** Run `script` on pyglite and on PostgreSQL 15; both transcripts must be `expected`. */
async function both(name: string, setup: string, script: (r: Run) => Promise<void>, expected: string[]) {
  const [mine, theirs] = await databases(name, setup)
  const transcripts: string[][] = []
  for (const url of [theirs!, mine!]) {
    const r = new Run(url)
    await script(r)
    transcripts.push(await r.end())
  }
  expect(transcripts[0], 'PostgreSQL 15').toEqual(expected)
  expect(transcripts[1], 'pyglite').toEqual(expected)
}

const TABLE = 'CREATE TABLE t(id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 10), (2, 20)'

describe('a failed transaction block', () => {
  it('keeps no lock and makes nobody wait; its client still gets 25P02 until ROLLBACK/COMMIT', async () => {
    await both(
      'failed_block',
      TABLE,
      async (r) => {
        const [a, b] = [await r.client(), await r.client()]
        await r.send('A', a, "SET application_name = 'failer'")
        await r.send('A', a, 'BEGIN')
        await r.send('A', a, 'UPDATE t SET v = 0 WHERE id = 1')
        await r.send('A', a, "SET statement_timeout = '7s'")
        await r.send('A', a, 'SELECT 1/0')
        // PostgreSQL aborted A's transaction at its error: its row lock is gone
        await r.send('B', b, 'UPDATE t SET v = 5 WHERE id = 1 RETURNING v')
        const c = await r.client() // connecting does not wait either
        await r.send('C', c, "SELECT state FROM pg_stat_activity WHERE application_name = 'failer'")
        await r.send('A', a, 'SELECT v FROM t')
        await r.send('A', a, 'SELECT $1::int', [1])
        await r.send('A', a, 'ROLLBACK TO SAVEPOINT nope')
        await r.send('A', a, 'COMMIT')
        await r.send('A', a, 'SHOW statement_timeout')
        await r.send('A', a, 'SELECT v FROM t WHERE id = 1')
      },
      [
        'A: SET []',
        'A: BEGIN []',
        'A: UPDATE []',
        'A: SET []',
        'A: ERROR 22012',
        'B: UPDATE [{"v":5}]',
        'C: SELECT [{"state":"idle in transaction (aborted)"}]',
        'A: ERROR 25P02',
        'A: ERROR 25P02',
        'A: ERROR 3B001',
        'A: ROLLBACK []',
        'A: SHOW [{"statement_timeout":"0"}]',
        'A: SELECT [{"v":5}]',
      ],
    )
  })
})

const pidOf = (c: pg.Client): number => (c as unknown as { processID: number }).processID

describe('idle_in_transaction_session_timeout', () => {
  it('ends a session idle in a failed block (FATAL 25P03), though it keeps nobody waiting', async () => {
    await both(
      'failed_idle',
      'SELECT 1',
      async (r) => {
        const [a, b] = [await r.client(), await r.client()]
        a.on('error', (e) => {
          const code = (e as { code?: string }).code
          if (code) r.note(`A gone: ${code}`)
        })
        await r.send('A', a, "SET idle_in_transaction_session_timeout = '300ms'")
        await r.send('A', a, 'BEGIN')
        await r.send('A', a, 'SELECT 1/0')
        await r.send('B', b, 'SELECT 1 AS x')
        await sleep(800)
        await r.send('B', b, "SELECT count(*) AS n FROM pg_stat_activity WHERE state LIKE 'idle in%'")
      },
      [
        'A: SET []',
        'A: BEGIN []',
        'A: ERROR 22012',
        'B: SELECT [{"x":1}]',
        'A gone: 25P03',
        'B: SELECT [{"n":"0"}]',
      ],
    )
  })
})

describe('a listener in a failed transaction block', () => {
  it('gets a notification only when the block ends (async.c: not idle inside a transaction block)', async () => {
    await both(
      'failed_listener',
      'SELECT 1',
      async (r) => {
        const [a, b] = [await r.client(), await r.client()]
        const got: string[] = []
        b.on('notification', (n) => got.push(n.payload ?? ''))
        await r.send('B', b, 'LISTEN ch')
        await r.send('B', b, 'BEGIN')
        await r.send('B', b, 'SELECT 1/0')
        await r.send('A', a, "NOTIFY ch, 'x'")
        await sleep(300)
        await r.send('B', b, 'SELECT 2')
        r.note(`B notified: ${got}`)
        await r.send('B', b, 'ROLLBACK')
        await sleep(300)
        r.note(`B notified: ${got}`)
      },
      [
        'B: LISTEN []',
        'B: BEGIN []',
        'B: ERROR 22012',
        'A: NOTIFY []',
        'B: ERROR 25P02',
        'B notified: ',
        'B: ROLLBACK []',
        'B notified: x',
      ],
    )
  })
})

describe('advisory locks', () => {
  it('queue as in PostgreSQL: no lock jumps a waiter ahead of it; xact-level ones see session-level ones; DISCARD ALL releases', async () => {
    await both(
      'advisory_queue',
      'SELECT 1',
      async (r) => {
        const [a, b, c, d] = [await r.client(), await r.client(), await r.client(), await r.client()]
        const names = new Map([a, b, c, d].map((x, i) => [pidOf(x), 'ABCD'[i]!]))
        await r.send('A', a, 'SELECT pg_advisory_lock_shared(3)')
        await r.send('B', b, 'SELECT pg_advisory_lock(3)')
        // a shared lock is free of the holder, but not of B waiting for an exclusive one (lock.c waitMask)
        await r.send('C', c, 'SELECT pg_try_advisory_lock_shared(3)')
        await r.send('C', c, 'SELECT pg_advisory_lock_shared(3)')
        const blocking = await d.query('SELECT pg_blocking_pids($1) AS p', [pidOf(c)])
        r.note(`C blocked by ${(blocking.rows[0].p as number[]).map((x) => names.get(x)).sort()}`)
        await r.send('A', a, 'SELECT pg_advisory_unlock_shared(3)')
        await r.wait('B')
        await r.wait('C', 600)
        await r.send('B', b, 'SELECT pg_advisory_unlock(3)')
        await r.wait('C')
        // C holds a shared session-level lock: transaction-level requests of others conflict with it
        await r.send('B', b, 'BEGIN')
        await r.send('B', b, 'SELECT pg_try_advisory_xact_lock(3)')
        await r.send('B', b, 'SELECT pg_try_advisory_xact_lock_shared(3)')
        await r.send('B', b, 'COMMIT')
        await r.send('A', a, 'SELECT pg_advisory_xact_lock(3)')
        await r.send('C', c, 'DISCARD ALL') // discard.c: LockReleaseAll(USER_LOCKMETHOD, true)
        await r.wait('A')
        await r.send('D', d, 'SELECT pg_try_advisory_lock(3)')
      },
      [
        'A: SELECT [{"pg_advisory_lock_shared":""}]',
        'B: waits',
        'C: SELECT [{"pg_try_advisory_lock_shared":false}]',
        'C: waits',
        'C blocked by B', // A's shared lock does not conflict: B, waiting ahead, does (a soft edge)
        'A: SELECT [{"pg_advisory_unlock_shared":true}]',
        'B then: SELECT [{"pg_advisory_lock":""}]',
        'C then: still waits',
        'B: SELECT [{"pg_advisory_unlock":true}]',
        'C then: SELECT [{"pg_advisory_lock_shared":""}]',
        'B: BEGIN []',
        'B: SELECT [{"pg_try_advisory_xact_lock":false}]',
        'B: SELECT [{"pg_try_advisory_xact_lock_shared":true}]',
        'B: COMMIT []',
        'A: waits',
        'C: DISCARD []',
        'A then: SELECT [{"pg_advisory_xact_lock":""}]',
        'D: SELECT [{"pg_try_advisory_lock":true}]',
      ],
    )
  })
})

describe('an advisory lock wait right after BEGIN', () => {
  it('that ends in lock_timeout or cancel fails the transaction block (25P02 until its end)', async () => {
    await both(
      'wait_in_block',
      'SELECT 1',
      async (r) => {
        const [a, b, c] = [await r.client(), await r.client(), await r.client()]
        await r.send('A', a, 'SELECT pg_advisory_lock(9)')
        await r.send('B', b, "SET lock_timeout = '300ms'")
        await r.send('B', b, 'BEGIN')
        await r.send('B', b, 'SELECT pg_advisory_lock(9)', [], 1000)
        await r.send('B', b, 'SELECT 1')
        await r.send('B', b, 'COMMIT')
        await r.send('B', b, 'RESET lock_timeout')
        await r.send('B', b, 'BEGIN')
        await r.send('B', b, 'SELECT pg_advisory_lock(9)')
        await r.send('C', c, 'SELECT pg_cancel_backend($1)', [pidOf(b)])
        await r.wait('B')
        await r.send('B', b, 'SELECT 2')
        await r.send('B', b, 'ROLLBACK')
      },
      [
        'A: SELECT [{"pg_advisory_lock":""}]',
        'B: SET []',
        'B: BEGIN []',
        'B: ERROR 55P03',
        'B: ERROR 25P02',
        'B: ROLLBACK []',
        'B: RESET []',
        'B: BEGIN []',
        'B: waits',
        'C: SELECT [{"pg_cancel_backend":true}]',
        'B then: ERROR 57014',
        'B: ERROR 25P02',
        'B: ROLLBACK []',
      ],
    )
  })
})

describe('a client that ends its session while its statement waits', () => {
  it('has it run once it may, as PostgreSQL reads the Terminate only after it (it commits)', async () => {
    await both(
      'terminate_waiting',
      TABLE,
      async (r) => {
        const [a, b] = [await r.client(), await r.client()]
        await r.send('A', a, 'BEGIN')
        await r.send('A', a, 'UPDATE t SET v = 0 WHERE id = 1')
        await r.send('B', b, 'UPDATE t SET v = v + 5 WHERE id = 1')
        // node-postgres' Terminate message and end of its socket, the statement still waiting
        ;(b as unknown as { connection: { end(): void } }).connection.end()
        await sleep(200)
        await r.send('A', a, 'COMMIT')
        await sleep(300)
        await r.send('A', a, 'SELECT v FROM t WHERE id = 1')
      },
      ['A: BEGIN []', 'A: UPDATE []', 'B: waits', 'A: COMMIT []', 'A: SELECT [{"v":5}]'],
    )
  })
})

describe('per-session caches that PostgreSQL keeps per backend', () => {
  it("sequence CACHE ranges and prepared plans: each session's own, invalidated by another's DDL", async () => {
    await both(
      'session_caches',
      `${TABLE}; CREATE SEQUENCE s CACHE 10`,
      async (r) => {
        const [a, b] = [await r.client(), await r.client()]
        // sequence.c: each backend fetches CACHE values at once and hands them out itself
        await r.send('A', a, "SELECT nextval('s') AS n")
        await r.send('B', b, "SELECT nextval('s') AS n")
        await r.send('A', a, "SELECT nextval('s') AS n")
        await r.send('B', b, 'DISCARD SEQUENCES')
        await r.send('B', b, "SELECT nextval('s') AS n")
        // plancache.c: a saved plan is invalidated by another session's ALTER TABLE
        await r.send('B', b, 'PREPARE p AS SELECT * FROM t WHERE id = 1')
        await r.send('B', b, 'PREPARE p2 AS SELECT v FROM t WHERE id = 1')
        await r.send('A', a, 'ALTER TABLE t ADD COLUMN w int DEFAULT 7')
        await r.send('B', b, 'EXECUTE p')
        await r.send('B', b, 'EXECUTE p2')
        await r.send('A', a, 'ALTER TABLE t ALTER COLUMN v TYPE bigint')
        await r.send('B', b, 'EXECUTE p2')
      },
      [
        'A: SELECT [{"n":"1"}]',
        'B: SELECT [{"n":"11"}]',
        'A: SELECT [{"n":"2"}]',
        'B: DISCARD []',
        'B: SELECT [{"n":"21"}]',
        'B: PREPARE []',
        'B: PREPARE []',
        'A: ALTER []',
        'B: ERROR 0A000',
        'B: SELECT [{"v":10}]',
        'A: ALTER []',
        'B: ERROR 0A000',
      ],
    )
  })
})
