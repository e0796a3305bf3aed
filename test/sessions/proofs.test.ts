// Many real clients on one backend, proven end to end: the same prepared statement names in two pgJDBC and
// two psycopg 3 connections, reconnect loops that find no leftovers, a killed psql mid-transaction, a
// bank-transfer stress with random ROLLBACKs and disconnects (PYGLITE_STRESS_SECONDS, default 10), and
// pgbench's TPC-B-like script with 8 clients in every query mode (PYGLITE_PGBENCH_SECONDS, default 5).
import { execFile, execFileSync, spawn } from 'node:child_process'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectPg, runJdbcProgram } from '../helpers/clients.js'
import { ROOT, startServer, type TestServer } from '../helpers/server.js'

const run = promisify(execFile)
const HERE = path.join(ROOT, 'test/sessions/clients')
const STRESS_S = Number(process.env.PYGLITE_STRESS_SECONDS ?? 10)
const PGBENCH_S = Number(process.env.PYGLITE_PGBENCH_SECONDS ?? 5)
let srv: TestServer
beforeAll(async () => {
  srv = await startServer()
})
afterAll(async () => {
  await srv?.stop()
})

const connect = () => connectPg(srv)

describe('prepared statement names are per connection', () => {
  it('pgJDBC: two connections, both using S_1/S_2 for different statements', () => {
    const kv = runJdbcProgram(srv, path.join(HERE, 'JdbcSameNames.java'), 'JdbcSameNames')
    expect(kv.rows).toBe('0,x0-b;10,x1-b;20,x2-b;30,x3-b;40,x4-b;50,x5-b;')
    expect(kv['a.names']).toMatch(/^S_1/)
    expect(kv['b.statements']).toContain("SELECT $1::text || '-b'")
    expect(kv['b.statements']).not.toContain('* 10')
  }, 120_000)

  it('psycopg 3: two connections, both using _pg3_0 for different statements', () => {
    const r = JSON.parse(
      execFileSync('/usr/bin/python3', [path.join(HERE, 'same_names_psycopg.py'), srv.url()], {
        encoding: 'utf8',
      }),
    )
    expect(r.rows).toEqual([0, 1, 2, 3, 4, 5].map((i) => [i * 10, `y${i}-b`]))
    expect(r.a).toEqual(['_pg3_0'])
    expect(r.b).toEqual(["SELECT $1::text || '-b'"])
  })
})

describe('connections coming and going', () => {
  it('reconnect loop: each new connection starts clean (no statements, settings or transaction left)', async () => {
    for (let i = 0; i < 30; i++) {
      const c = await connect()
      const r = await c.query(
        "SELECT (SELECT count(*)::int FROM pg_prepared_statements) AS prepared, current_setting('work_mem') AS wm, current_setting('application_name') AS app, now() = statement_timestamp() AS fresh_tx",
      )
      expect(r.rows[0], `round ${i}`).toEqual({ prepared: 0, wm: '4MB', app: '', fresh_tx: true })
      await c.query({ name: 'left_behind', text: 'SELECT $1::int', values: [i] })
      await c.query(`PREPARE sql_left_${i} AS SELECT 1; SET work_mem = '9MB'; SET application_name = 'r${i}'`)
      if (i % 3 === 0) await c.query('BEGIN; SELECT 1')
      if (i % 2 === 0) await c.end()
      else {
        c.on('error', () => {})
        ;(c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy()
      }
    }
  })

  it('a psql killed mid-transaction: its work is rolled back, the others go on', async () => {
    const b = await connect()
    await b.query('CREATE TABLE killed_t(who text)')
    const p = spawn('psql', ['-X', '-q', '-d', srv.url()], { stdio: ['pipe', 'pipe', 'pipe'] })
    p.stdin.write("BEGIN;\nINSERT INTO killed_t VALUES ('psql');\nSELECT 'inside';\n")
    await new Promise<void>((resolve) => {
      p.stdout.on('data', (d) => {
        if (String(d).includes('inside')) resolve()
      })
    })
    // b waits for psql's transaction; the kill ends it
    const waiting = b.query(
      "INSERT INTO killed_t VALUES ('b') RETURNING (SELECT count(*)::int FROM killed_t) AS seen",
    )
    await new Promise((r) => setTimeout(r, 200))
    p.kill('SIGKILL')
    expect((await waiting).rows).toEqual([{ seen: 0 }])
    expect((await b.query('SELECT who FROM killed_t')).rows).toEqual([{ who: 'b' }])
    await b.end()
  })
})

describe('stress', () => {
  it(
    `bank transfers: 8 clients for ${STRESS_S} s with random ROLLBACKs and disconnects; money is conserved`,
    async () => {
      const admin = await connect()
      await admin.query(
        'CREATE TABLE acct(id int PRIMARY KEY, balance int NOT NULL); CREATE TABLE ledger(id int, delta int)',
      )
      await admin.query('INSERT INTO acct SELECT g, 1000 FROM generate_series(1, 50) g')
      const deadline = Date.now() + STRESS_S * 1000
      const stats = { commits: 0, rollbacks: 0, kills: 0 }
      const unexpected: string[] = []
      const worker = async (w: number) => {
        let seed = w * 7919 + 1
        const rand = (n: number) => {
          seed = (seed * 1103515245 + 12345) & 0x7fffffff
          return seed % n
        }
        while (Date.now() < deadline) {
          const c = await connect()
          let killed = false
          c.on('error', (e) => {
            if (!killed) unexpected.push(`client ${w}: ${e.message}`)
          })
          try {
            while (Date.now() < deadline) {
              const from = 1 + rand(50)
              const to = 1 + ((from + rand(49)) % 50)
              const amount = 1 + rand(100)
              await c.query('BEGIN')
              await c.query('UPDATE acct SET balance = balance - $1 WHERE id = $2', [amount, from])
              await c.query('UPDATE acct SET balance = balance + $1 WHERE id = $2', [amount, to])
              await c.query('INSERT INTO ledger VALUES ($1, $2), ($3, $4)', [from, -amount, to, amount])
              const dice = rand(100)
              if (dice < 4) {
                killed = true
                stats.kills++
                ;(c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy()
                break
              }
              if (dice < 15) {
                await c.query('ROLLBACK')
                stats.rollbacks++
              } else {
                await c.query('COMMIT')
                stats.commits++
              }
            }
          } catch (e) {
            if (!killed) unexpected.push(`client ${w}: ${(e as Error).message}`)
          }
          if (!killed) await c.end()
        }
      }
      await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)))
      expect(unexpected).toEqual([])
      expect(stats.commits).toBeGreaterThan(50)
      expect(stats.rollbacks).toBeGreaterThan(0)
      expect(stats.kills).toBeGreaterThan(0)
      const r = await admin.query(`SELECT (SELECT sum(balance)::int FROM acct) AS total,
      (SELECT count(*)::int FROM ledger) AS legs,
      (SELECT bool_and(a.balance = 1000 + coalesce(l.d, 0)) FROM acct a
         LEFT JOIN (SELECT id, sum(delta)::int AS d FROM ledger GROUP BY id) l USING (id)) AS ledger_matches`)
      expect(r.rows[0]).toEqual({ total: 50_000, legs: stats.commits * 2, ledger_matches: true })
      await admin.end()
    },
    120_000 + STRESS_S * 1000,
  )
})

describe('pgbench', () => {
  const pgbench = async (args: string[]) => {
    const r = await run(
      'pgbench',
      ['-h', srv.host, '-p', String(srv.port), '-U', 'postgres', ...args, 'postgres'],
      {
        timeout: 120_000 + PGBENCH_S * 3000,
      },
    )
    return `${r.stdout}${r.stderr}`
  }

  it(`TPC-B-like, -c 8 -j 2 -T ${PGBENCH_S} in simple, extended and prepared mode: zero failed transactions`, async () => {
    expect(await pgbench(['-i', '-s', '1', '-q'])).toContain('done in')
    const c = await connect()
    for (const mode of ['simple', 'extended', 'prepared']) {
      const out = await pgbench(['-c', '8', '-j', '2', '-T', String(PGBENCH_S), '-M', mode])
      expect(out, mode).toMatch(/number of failed transactions: 0 \(0\.000%\)/)
      const done = Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1])
      expect(done, mode).toBeGreaterThan(50)
      // every transaction adds its delta to one account, teller and branch and logs it (pgbench empties
      // the history before each run): nothing half-done, nothing lost
      const r =
        await c.query(`SELECT (SELECT sum(abalance) FROM pgbench_accounts) = (SELECT sum(bbalance) FROM pgbench_branches)
          AND (SELECT sum(abalance) FROM pgbench_accounts) = (SELECT sum(tbalance) FROM pgbench_tellers) AS consistent,
        (SELECT count(*)::int FROM pgbench_history) AS logged`)
      expect(r.rows[0], mode).toEqual({ consistent: true, logged: done })
    }
    await c.end()
  }, 300_000)
})
