// Many clients, one engine: whose turn it is (a transaction or an extended batch keeps it), what each
// session keeps to itself (role, reported settings, prepared statements), disconnects mid-transaction,
// connecting while someone holds a transaction, and pgbench with 4 clients in every query mode.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'

const run = promisify(execFile)
let srv: TestServer
beforeAll(async () => {
  srv = await startServer()
})
afterAll(async () => {
  await srv?.stop()
})

async function connect(extra: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: srv.url(), ...extra })
  await c.connect()
  return c
}

describe('turns', () => {
  it("keeps another client's statement waiting while a transaction is open; A's ROLLBACK leaves B's work", async () => {
    const a = await connect()
    const b = await connect()
    await a.query('CREATE TABLE turn_t(who text, n int)')
    await a.query('BEGIN')
    await a.query("INSERT INTO turn_t VALUES ('a', 1)")
    const events: string[] = []
    const bDone = b
      .query("INSERT INTO turn_t VALUES ('b', 1) RETURNING (SELECT count(*) FROM turn_t)::int AS seen")
      .then((r) => {
        events.push('b')
        return r.rows[0].seen
      })
    await new Promise((r) => setTimeout(r, 300))
    events.push('a-more')
    await a.query("INSERT INTO turn_t VALUES ('a', 2)")
    expect((await a.query('SELECT count(*)::int AS n FROM turn_t')).rows[0].n).toBe(2)
    events.push('a-rollback')
    await a.query('ROLLBACK')
    // B ran only after A's transaction ended, and saw none of A's rows
    expect(await bDone).toBe(0)
    expect(events).toEqual(['a-more', 'a-rollback', 'b'])
    expect((await a.query('SELECT who, n FROM turn_t')).rows).toEqual([{ who: 'b', n: 1 }])
    await a.end()
    await b.end()
  })

  it('rolls back the transaction of a client that disappears, and lets the others go on', async () => {
    const a = await connect()
    const b = await connect()
    await a.query('CREATE TABLE gone_t(v int)')
    await a.query('BEGIN')
    await a.query('INSERT INTO gone_t VALUES (1)')
    const waiting = b.query('SELECT count(*)::int AS n FROM gone_t')
    a.on('error', () => {})
    ;(a as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy()
    expect((await waiting).rows[0].n).toBe(0)
    await b.end()
  })

  it('lets a client connect while another one is idle in a transaction, without touching it', async () => {
    const a = await connect()
    await a.query('CREATE TABLE beside_t(v int)')
    await a.query('BEGIN')
    await a.query("INSERT INTO beside_t VALUES (1); SET LOCAL application_name = 'in-a'")
    const b = await connect({ application_name: 'newcomer', options: '-c DateStyle=SQL,DMY' })
    expect((b as unknown as { processID: number }).processID).toBeGreaterThan(0) // BackendKeyData came
    // A's transaction is intact (its uncommitted row, its settings) and commits
    const r = await a.query(
      "SELECT count(*)::int AS n, current_setting('application_name') AS app, current_setting('DateStyle') AS ds FROM beside_t",
    )
    expect(r.rows).toEqual([{ n: 1, app: 'in-a', ds: 'ISO, MDY' }])
    await a.query('COMMIT')
    // B got its own settings
    const s = await b.query(
      "SELECT current_setting('application_name') AS app, current_setting('DateStyle') AS ds, count(*)::int AS n FROM beside_t",
    )
    expect(s.rows).toEqual([{ app: 'newcomer', ds: 'SQL, DMY', n: 1 }])
    await a.end()
    await b.end()
  })
})

describe('private session state', () => {
  it('keeps SET of reported settings per session', async () => {
    const a = await connect()
    const b = await connect()
    await a.query("SET DateStyle = 'German'; SET application_name = 'a'; SET search_path = pg_catalog")
    const [ra, rb] = await Promise.all([
      a.query(
        "SELECT '2024-03-01'::date::text AS d, current_setting('application_name') AS app, current_setting('search_path') AS sp",
      ),
      b.query(
        "SELECT '2024-03-01'::date::text AS d, current_setting('application_name') AS app, current_setting('search_path') AS sp",
      ),
    ])
    expect(ra.rows).toEqual([{ d: '01.03.2024', app: 'a', sp: 'pg_catalog' }])
    expect(rb.rows).toEqual([{ d: '2024-03-01', app: '', sp: '"$user", public' }])
    await a.end()
    await b.end()
  })

  it('keeps start-up and ALTER ROLE settings that PostgreSQL does not report to their own sessions', async () => {
    const admin = await connect()
    await admin.query("CREATE ROLE tuned LOGIN; ALTER ROLE tuned SET work_mem = '8MB'")
    const a = await connect({ options: '-c extra_float_digits=-2 -c lock_timeout=2s' })
    const t = new pg.Client({ host: srv.host, port: srv.port, user: 'tuned', database: 'postgres' })
    await t.connect()
    const b = await connect()
    const show = (c: pg.Client) =>
      c.query(
        "SELECT current_setting('extra_float_digits') AS efd, current_setting('lock_timeout') AS lt, current_setting('work_mem') AS wm",
      )
    for (let i = 0; i < 3; i++) {
      const [ra, rt, rb] = await Promise.all([show(a), show(t), show(b)])
      expect(ra.rows[0]).toEqual({ efd: '-2', lt: '2s', wm: '4MB' })
      expect(rt.rows[0]).toEqual({ efd: '1', lt: '0', wm: '8MB' })
      expect(rb.rows[0]).toEqual({ efd: '1', lt: '0', wm: '4MB' })
    }
    await Promise.all([a.end(), t.end(), b.end(), admin.end()])
  })

  it('applies ALTER DATABASE … SET and ALTER ROLE … IN DATABASE … SET to new sessions of that database only', async () => {
    const clients: pg.Client[] = []
    const open = async (database: string, user = 'postgres') => {
      const c = new pg.Client({ host: srv.host, port: srv.port, user, database })
      await c.connect()
      clients.push(c)
      return c
    }
    const show = async (c: pg.Client) =>
      (
        await c.query(
          "SELECT current_setting('extra_float_digits') AS efd, current_setting('work_mem') AS wm, current_setting('lock_timeout') AS lt",
        )
      ).rows[0]
    const admin = await open('postgres')
    try {
      await admin.query('CREATE DATABASE tuned_db')
      await admin.query('ALTER DATABASE postgres SET extra_float_digits = -1; CREATE ROLE dbtuned LOGIN')
      await open('tuned_db', 'dbtuned') // a role reaches another database's cluster at its first login there
      const other = await open('tuned_db')
      await other.query("ALTER DATABASE tuned_db SET work_mem = '6MB'")
      await other.query("ALTER ROLE dbtuned IN DATABASE tuned_db SET lock_timeout = '3s'")
      expect(await show(await open('postgres'))).toEqual({ efd: '-1', wm: '4MB', lt: '0' })
      expect(await show(await open('tuned_db'))).toEqual({ efd: '1', wm: '6MB', lt: '0' })
      expect(await show(await open('tuned_db', 'dbtuned'))).toEqual({ efd: '1', wm: '6MB', lt: '3s' })
      expect(await show(await open('postgres', 'dbtuned'))).toEqual({ efd: '-1', wm: '4MB', lt: '0' })
    } finally {
      await admin.query('ALTER DATABASE postgres RESET extra_float_digits')
      await Promise.all(clients.map((c) => c.end()))
    }
  })

  it('gives each session its own prepared statements (protocol and SQL level), gone on disconnect', async () => {
    const a = await connect()
    const b = await connect()
    for (let i = 0; i < 3; i++) {
      const [x, y] = await Promise.all([
        a.query({ name: 'same', text: 'SELECT $1::int * 2 AS v', values: [i] }),
        b.query({ name: 'same', text: "SELECT $1::text || '!' AS v", values: [`b${i}`] }),
      ])
      expect([x.rows[0].v, y.rows[0].v]).toEqual([i * 2, `b${i}!`])
    }
    await a.query('PREPARE mine AS SELECT 1 AS one')
    const e = await b.query('EXECUTE mine').catch((x) => x)
    expect(e.message).toBe('prepared statement "mine" does not exist')
    await b.query('PREPARE mine AS SELECT 2 AS two')
    expect((await a.query('EXECUTE mine')).rows).toEqual([{ one: 1 }])
    expect((await b.query('EXECUTE mine')).rows).toEqual([{ two: 2 }])
    expect(
      (await a.query('SELECT name FROM pg_prepared_statements ORDER BY name')).rows.map((r) => r.name),
    ).toEqual(['mine', 'same'])
    await a.query('DEALLOCATE ALL') // only its own
    expect((await b.query('EXECUTE mine')).rows).toEqual([{ two: 2 }])
    await a.end()
    const c = await connect()
    expect((await c.query('SELECT count(*)::int AS n FROM pg_prepared_statements')).rows[0].n).toBe(0)
    await b.end()
    await c.end()
  })

  it('serves many clients with interleaved queries, each getting its own answers', async () => {
    const clients = await Promise.all(Array.from({ length: 8 }, () => connect()))
    const results = await Promise.all(
      clients.map(async (c, k) => {
        const got: number[] = []
        for (let i = 0; i < 25; i++)
          got.push((await c.query('SELECT $1::int + $2::int AS v', [k * 1000, i])).rows[0].v)
        return got
      }),
    )
    results.forEach((got, k) => {
      expect(got).toEqual(Array.from({ length: 25 }, (_, i) => k * 1000 + i))
    })
    await Promise.all(clients.map((c) => c.end()))
  })
})

describe('pgbench', () => {
  const pgbench = async (args: string[]) => {
    const r = await run(
      'pgbench',
      ['-h', srv.host, '-p', String(srv.port), '-U', 'postgres', ...args, 'postgres'],
      {
        timeout: 120_000,
      },
    )
    return `${r.stdout}${r.stderr}`
  }

  it('initialises (-i -I dtGvp) and runs -S with 4 clients in simple, extended and prepared mode: no failures', async () => {
    const init = await pgbench(['-i', '-I', 'dtGvp', '-s', '1'])
    expect(init).toContain('done in')
    for (const mode of ['simple', 'extended', 'prepared']) {
      const out = await pgbench(['-S', '-c', '4', '-T', '3', '-M', mode])
      expect(out, mode).toMatch(/number of failed transactions: 0 \(0\.000%\)/)
      const tx = Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1])
      expect(tx, mode).toBeGreaterThan(100)
    }
  }, 120_000)

  it('runs the TPC-B-like script with 4 clients in prepared mode (prepares beside open transactions)', async () => {
    const out = await pgbench(['-c', '4', '-T', '3', '-M', 'prepared'])
    expect(out).toMatch(/number of failed transactions: 0 \(0\.000%\)/)
    const c = await connect()
    const r = await c.query(
      'SELECT (SELECT sum(abalance) FROM pgbench_accounts) = (SELECT sum(delta) FROM pgbench_history) AS consistent',
    )
    expect(r.rows[0].consistent).toBe(true)
    await c.end()
  }, 120_000)
})
