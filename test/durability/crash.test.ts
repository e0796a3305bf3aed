// The crash test: several clients commit transactions while the server is killed with SIGKILL at random
// moments (sometimes again during the restart's crash recovery); after each restart every acknowledged
// transaction must be there whole, and nothing else may be half there. Transactions are multi-row and
// come three ways: BEGIN … COMMIT with a balance transfer, one multi-row INSERT, and a PL/Python function
// that inserts its rows with plpy.execute. 20 cycles by default (PYGLITE_CRASH_CYCLES for more, with
// PYGLITE_CRASH_SEED to replay a run).
import { spawn } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { ROOT, startServer, type TestServer } from '../helpers/server.js'
import { psql } from './util.js'

const CYCLES = Number(process.env.PYGLITE_CRASH_CYCLES ?? 20)
const SEED = Number(process.env.PYGLITE_CRASH_SEED ?? 20261123)
const WRITERS = 3
const ACCOUNTS = 8
const PARTS = 3

/** mulberry32: a small seeded PRNG, so a failing run can be replayed */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Ledger {
  /** keys "client:seq" whose COMMIT (or autocommit statement) was acknowledged */
  acked: Set<string>
  /** keys sent to the server at all (acknowledged or not) */
  sent: Set<string>
}

/** One writer: transactions until its connection dies; returns how many were acknowledged. */
async function writer(url: string, client: number, rnd: () => number, ledger: Ledger): Promise<number> {
  const c = new pg.Client({ connectionString: url })
  c.on('error', () => {}) // the server is killed under us: errors surface as rejected queries
  let n = 0
  try {
    await c.connect()
    for (let seq = 1; ; seq++) {
      const key = `${client}:${seq}`
      const rows = Array.from({ length: PARTS }, (_, p) => `(${client}, ${seq}, ${p})`)
      const kind = seq % 3
      if (kind === 0) {
        const from = Math.floor(rnd() * ACCOUNTS)
        const to = (from + 1 + Math.floor(rnd() * (ACCOUNTS - 1))) % ACCOUNTS
        const amount = 1 + Math.floor(rnd() * 50)
        await c.query('BEGIN')
        for (const r of rows) await c.query(`INSERT INTO ledger VALUES ${r}`)
        await c.query(`UPDATE accounts SET balance = balance - ${amount} WHERE id = ${from}`)
        await c.query(`UPDATE accounts SET balance = balance + ${amount} WHERE id = ${to}`)
        ledger.sent.add(key)
        await c.query('COMMIT')
      } else if (kind === 1) {
        ledger.sent.add(key)
        await c.query(`INSERT INTO ledger VALUES ${rows.join(', ')}`)
      } else {
        ledger.sent.add(key)
        await c.query(`SELECT py_put(${client}, ${seq}, ${PARTS})`)
      }
      ledger.acked.add(key)
      n++
    }
  } catch {
    return n
  } finally {
    c.end().catch(() => {})
  }
}

/** Start the server and kill it with SIGKILL after `ms`, before it is listening (during recovery). */
async function killDuringStart(dataDir: string, ms: number): Promise<void> {
  const proc = spawn(
    process.execPath,
    [path.join(ROOT, 'bin/pyglite.js'), '--port', '0', '--auth', 'trust', '--data-dir', dataDir],
    { stdio: 'ignore' },
  )
  await new Promise((r) => setTimeout(r, ms))
  const exited = new Promise((r) => proc.once('exit', r))
  proc.kill('SIGKILL')
  await exited
}

describe('crash test', () => {
  it(
    `keeps every acknowledged commit, whole, across ${CYCLES} SIGKILLs (seed ${SEED})`,
    async () => {
      const rnd = prng(SEED)
      let srv: TestServer = await startServer()
      const dataDir = srv.dataDir
      psql(
        srv.url(),
        `CREATE TABLE ledger(client int, seq int, part int, PRIMARY KEY (client, seq, part));
       CREATE TABLE accounts(id int PRIMARY KEY, balance bigint NOT NULL);
       INSERT INTO accounts SELECT i, 1000 FROM generate_series(0, ${ACCOUNTS - 1}) i;
       CREATE FUNCTION py_put(c int, s int, parts int) RETURNS void LANGUAGE plpython3u AS $$
         if 'plan' not in SD:
             SD['plan'] = plpy.prepare('INSERT INTO ledger VALUES ($1, $2, $3)', ['int', 'int', 'int'])
         for p in range(parts):
             plpy.execute(SD['plan'], [c, s, p])
       $$`,
      )
      const ledger: Ledger = { acked: new Set(), sent: new Set() }
      const perCycle: number[] = []
      const reopenMs: number[] = []
      let killedInStart = 0
      for (let cycle = 0; cycle < CYCLES; cycle++) {
        const writers = Array.from({ length: WRITERS }, (_, w) =>
          writer(srv.url(), cycle * 100 + w, prng(SEED + cycle * 100 + w), ledger),
        )
        // once they commit, let them go on for a random while, then kill the server wherever it is
        const ackedBefore = ledger.acked.size
        for (let i = 0; i < 500 && ledger.acked.size === ackedBefore; i++)
          await new Promise((r) => setTimeout(r, 20))
        await new Promise((r) => setTimeout(r, 100 + rnd() * 700))
        expect(await srv.stop('SIGKILL')).toBe(null)
        perCycle.push((await Promise.all(writers)).reduce((a, b) => a + b, 0))
        if (rnd() < 0.15) {
          await killDuringStart(dataDir, 300 + rnd() * 2000)
          killedInStart++
        }

        const t0 = Date.now()
        srv = await startServer({ dataDir }) // reopens without any manual repair
        reopenMs.push(Date.now() - t0)
        const present = psql(
          srv.url(),
          "SELECT client || ':' || seq || '=' || count(*) FROM ledger GROUP BY client, seq ORDER BY 1",
        )
          .split('\n')
          .filter((l) => l !== '')
        const counts = new Map(present.map((l) => l.split('=') as [string, string]))
        const context = `cycle ${cycle}, seed ${SEED}`
        // every acknowledged transaction is there, with all its rows
        const missing = [...ledger.acked].filter((k) => counts.get(k) !== String(PARTS))
        expect(missing, `acknowledged but missing or partial (${context})`).toEqual([])
        // whatever is there is whole, and was sent (an unacknowledged one may be there or not)
        const broken = [...counts].filter(([k, n]) => n !== String(PARTS) || !ledger.sent.has(k))
        expect(broken, `partial or unknown transactions (${context})`).toEqual([])
        expect(psql(srv.url(), 'SELECT sum(balance), count(*) FROM accounts'), context).toBe(
          `${ACCOUNTS * 1000}|${ACCOUNTS}`,
        )
        // a transaction whose COMMIT was in flight is now decided: count it as acknowledged if present
        for (const k of counts.keys()) ledger.acked.add(k)
      }
      const sorted = [...reopenMs].sort((a, b) => a - b)
      console.info(
        `crash test: ${CYCLES} cycles, ${killedInStart} also killed during recovery, acknowledged per cycle ${perCycle.join(' ')}; ` +
          `reopen after SIGKILL (spawn to listening) median ${sorted[sorted.length >> 1]} ms, max ${sorted.at(-1)} ms; loadavg ${os.loadavg()[0]!.toFixed(1)}`,
      )
      expect(perCycle.filter((n) => n > 0).length).toBeGreaterThanOrEqual(CYCLES / 2) // the load was real
      expect(await srv.stop('SIGTERM')).toBe(0)
    },
    60_000 + CYCLES * 60_000,
  )
})
