// Automatic checkpoints (src/engine/sessions/checkpoints.ts): a standalone PostgreSQL backend never checkpoints by
// itself, so pyglite does it between statements. Proven on the real server with PGlite on disk, reading
// pg_control from the disk while statements run: (1) the checkpoint LSN advances after
// PYGLITE_CHECKPOINT_INTERVAL_MS without any client running CHECKPOINT, and never while a statement runs;
// (2) a steady write load keeps pg_wal within max_wal_size (and without automatic checkpoints it does not);
// (3) after kill -9, recovery starts from the new redo point and every committed row is there.
import fs from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'
import { controlState, DB_IN_PRODUCTION, psql } from './util.js'

const SEGMENT = 16 * 1024 * 1024 // PGlite's wal_segment_size (checked below)

interface Control {
  /** the last checkpoint record's LSN */
  checkpoint: bigint
  /** its redo point: where crash recovery starts replaying */
  redo: bigint
  /** its time (seconds since the epoch) */
  time: bigint
}

/**
 * The default database's pg_control as on disk (ControlFileData in pg_control.h, wasm32 layout):
 * checkPoint u64 at 32, checkPointCopy at 40 (redo u64 first, time i64 at 40 + 64). Cross-checked with
 * pg_control_checkpoint() in the first test.
 */
function control(dataDir: string): Control {
  const b = fs.readFileSync(path.join(dataDir, 'postgres', 'global', 'pg_control'))
  return { checkpoint: b.readBigUInt64LE(32), redo: b.readBigUInt64LE(40), time: b.readBigInt64LE(104) }
}

const lsn = (v: bigint) =>
  `${(v >> 32n).toString(16).toUpperCase()}/${(v & 0xffffffffn).toString(16).toUpperCase()}`

/** the WAL insert position in bytes after `sql`, read in the same exec (no checkpoint can come between) */
const walAfter = (url: string, sql: string) =>
  BigInt(psql(url, `${sql}; SELECT pg_current_wal_insert_lsn() - '0/0'`).split('\n').at(-1)!)

/** bytes of WAL segment files in pg_wal */
function walDirBytes(dataDir: string): number {
  const dir = path.join(dataDir, 'postgres', 'pg_wal')
  return fs
    .readdirSync(dir)
    .filter((f) => /^[0-9A-F]{24}$/.test(f))
    .reduce((a, f) => a + fs.statSync(path.join(dir, f)).size, 0)
}

async function until<T>(what: string, ms: number, probe: () => T | undefined): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = probe()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** the server's debug lines of automatic checkpoints */
const checkpointLogs = (srv: TestServer) =>
  srv
    .output()
    .split('\n')
    .filter((l) => l.includes('"component":"checkpoints"') && l.includes('"msg":"checkpoint"'))
    .map((l) => JSON.parse(l) as { db: string; reason: string; ms: number; walBytes: number; redo: string })

const debug = ['--log-level', 'debug']

describe('automatic checkpoints', () => {
  it('checkpoint after the interval without any CHECKPOINT from a client, never inside a running statement', async () => {
    const srv = await startServer({ args: debug, env: { PYGLITE_CHECKPOINT_INTERVAL_MS: '1500' } })
    const client = new pg.Client({ connectionString: srv.url() })
    try {
      const url = srv.url()
      // the on-disk layout read here is pg_control_checkpoint()'s
      const c0 = control(srv.dataDir)
      expect(
        psql(
          url,
          'SELECT checkpoint_lsn, redo_lsn, extract(epoch FROM checkpoint_time)::int8 FROM pg_control_checkpoint()',
        ),
      ).toBe(`${lsn(c0.checkpoint)}|${lsn(c0.redo)}|${c0.time}`)
      expect(psql(url, "SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'")).toBe(`${SEGMENT}`)

      const written = walAfter(
        url,
        "CREATE TABLE t(id int, pad text); INSERT INTO t SELECT g, repeat('x', 500) FROM generate_series(1, 20000) g",
      )
      expect(written - c0.redo).toBeGreaterThan(10_000_000n)
      // nobody sends CHECKPOINT: the engine makes one once the interval has passed
      const c1 = await until('the first automatic checkpoint', 20_000, () => {
        const c = control(srv.dataDir)
        return c.checkpoint > c0.checkpoint ? c : undefined
      })
      expect(c1.redo).toBeGreaterThanOrEqual(written) // recovery would start after all of that
      // its debug line follows (pg_control is written during the checkpoint, the line after it)
      const logged = await until('the checkpoint log line', 5_000, () => {
        const l = checkpointLogs(srv)
        return l.length > 0 ? l : undefined
      })
      expect(logged[0]).toMatchObject({ db: 'postgres', reason: 'time' })
      expect(logged[0]!.ms).toBeGreaterThan(0)
      expect(logged[0]!.walBytes).toBeGreaterThan(10_000_000)

      // a statement that writes, then runs for 3 s (twice the interval): the checkpoint it made due waits
      // until it has ended, although the engine's timer came due meanwhile
      await client.connect()
      const before = control(srv.dataDir)
      const samples: Array<{ at: number; c: Control }> = []
      const sampler = setInterval(() => samples.push({ at: Date.now(), c: control(srv.dataDir) }), 50)
      let ended = 0
      const res = await client
        .query(
          "INSERT INTO t SELECT g, repeat('y', 500) FROM generate_series(1, 2000) g; SELECT pg_current_wal_insert_lsn() - '0/0' AS pos, pg_sleep(3)",
        )
        .finally(() => {
          ended = Date.now()
        })
      const pos = BigInt((res as unknown as pg.QueryResult[])[1]!.rows[0].pos)
      const c2 = await until('the checkpoint after the statement', 20_000, () => {
        const c = control(srv.dataDir)
        return c.checkpoint > before.checkpoint ? c : undefined
      })
      clearInterval(sampler)
      const during = samples.filter((s) => s.at < ended)
      expect(during.length).toBeGreaterThan(30)
      for (const s of during) expect(s.c.checkpoint).toBe(before.checkpoint)
      expect(c2.redo).toBeGreaterThanOrEqual(pos)
      // pg_control's time is whole seconds at the checkpoint's start: not before the statement ended
      expect(Number(c2.time)).toBeGreaterThanOrEqual(Math.floor(ended / 1000))
      await until('its log line', 5_000, () =>
        checkpointLogs(srv).length > logged.length ? true : undefined,
      )

      // a client idle inside a transaction holds the backend, yet the checkpoint runs beside it (as the
      // checkpointer would) and leaves its transaction as it was: still open, then committed whole
      await client.query('BEGIN')
      // 20 MB: past a segment boundary, where PostgreSQL flushes WAL even before COMMIT (XLogWrite), so the
      // flush position the engine watches moves
      await client.query(
        "INSERT INTO t SELECT g, 'open' || repeat('z', 1000) FROM generate_series(1, 20000) g",
      )
      const open = control(srv.dataDir)
      const c3 = await until('a checkpoint beside the open transaction', 20_000, () => {
        const c = control(srv.dataDir)
        return c.checkpoint > open.checkpoint ? c : undefined
      })
      expect(c3.redo).toBeGreaterThan(open.redo)
      // (another client's statement would wait for this transaction: only this client asks meanwhile)
      const opened = "SELECT count(*) FROM t WHERE pad LIKE 'open%'"
      const still = await client.query(
        "SELECT count(*), pg_current_xact_id_if_assigned() IS NOT NULL AS xact FROM t WHERE pad LIKE 'open%'",
      )
      expect(still.rows[0]).toEqual({ count: '20000', xact: true })
      await client.query('COMMIT')
      expect(psql(url, opened)).toBe('20000')
    } finally {
      await client.end().catch(() => {})
      await srv.stop()
    }
  }, 90_000)

  it('keeps pg_wal within max_wal_size under a steady write load; without automatic checkpoints it grows', async () => {
    // a small max_wal_size (the server's own setting, read at start) and a time trigger out of the way:
    // only the WAL trigger acts. 12 rounds of ~17 MB of WAL each, about 200 MB (13 segments)
    const setup = await startServer()
    psql(setup.url(), "ALTER SYSTEM SET max_wal_size = '48MB'")
    psql(setup.url(), "ALTER SYSTEM SET min_wal_size = '32MB'")
    psql(setup.url(), 'CREATE TABLE w(id int, pad text)')
    await setup.stop()
    const dataDir = setup.dataDir
    fs.cpSync(dataDir, `${dataDir}-off`, { recursive: true })

    const writeLoop = async (srv: TestServer) => {
      const c = new pg.Client({ connectionString: srv.url() })
      await c.connect()
      const sizes: number[] = []
      try {
        expect((await c.query('SHOW max_wal_size')).rows[0].max_wal_size).toBe('48MB')
        const start = walAfter(srv.url(), 'SELECT 1')
        for (let i = 0; i < 12; i++) {
          await c.query('TRUNCATE w')
          await c.query("INSERT INTO w SELECT g, repeat('x', 1000) FROM generate_series(1, 16000) g")
          sizes.push(walDirBytes(srv.dataDir))
        }
        return { sizes, written: walAfter(srv.url(), 'SELECT 1') - start }
      } finally {
        await c.end()
      }
    }

    const on = await startServer({ dataDir, args: debug, env: { PYGLITE_CHECKPOINT_INTERVAL_MS: '600000' } })
    try {
      const { sizes, written } = await writeLoop(on)
      expect(written).toBeGreaterThan(10n * BigInt(SEGMENT))
      // PostgreSQL keeps (and recycles) up to about max_wal_size of segments: 48 MB, plus the current one
      expect(Math.max(...sizes)).toBeLessThanOrEqual(48 * 1024 * 1024 + 2 * SEGMENT)
      // and it stops growing: the second half never exceeds the first half's peak
      expect(Math.max(...sizes.slice(6))).toBeLessThanOrEqual(Math.max(...sizes.slice(0, 6)))
      const logged = checkpointLogs(on)
      expect(logged.length).toBeGreaterThanOrEqual(4)
      for (const l of logged) expect(l.reason).toBe('wal')
      // the trigger: max_wal_size / (1 + checkpoint_completion_target) = 48 MB / 1.9 since the redo point
      for (const l of logged) expect(l.walBytes).toBeGreaterThanOrEqual(Math.floor((48 * 1024 * 1024) / 1.9))
    } finally {
      await on.stop()
    }

    // the same load with automatic checkpoints off (PYGLITE_CHECKPOINT_INTERVAL_MS=0): every segment stays
    const off = await startServer({
      dataDir: `${dataDir}-off`,
      args: debug,
      env: { PYGLITE_CHECKPOINT_INTERVAL_MS: '0' },
    })
    try {
      const { sizes } = await writeLoop(off)
      expect(sizes.at(-1)).toBeGreaterThan(10 * SEGMENT)
      expect(checkpointLogs(off)).toEqual([])
    } finally {
      await off.stop()
      fs.rmSync(`${dataDir}-off`, { recursive: true, force: true })
    }
  }, 120_000)

  it('after kill -9, recovery starts from the last automatic checkpoint and every commit is there', async () => {
    const srv = await startServer({ args: debug, env: { PYGLITE_CHECKPOINT_INTERVAL_MS: '1000' } })
    let again: TestServer | undefined
    try {
      const url = srv.url()
      const early = walAfter(
        url,
        "CREATE TABLE k(id int PRIMARY KEY, pad text); INSERT INTO k SELECT g, repeat('x', 1000) FROM generate_series(1, 30000) g",
      )
      await until('a checkpoint after the early writes', 20_000, () =>
        control(srv.dataDir).redo >= early ? true : undefined,
      )
      // more commits after it, each acknowledged; then the kill, with no shutdown checkpoint
      const c = new pg.Client({ connectionString: url })
      await c.connect()
      for (let i = 30001; i <= 30100; i++) await c.query('INSERT INTO k VALUES ($1, $2)', [i, `late ${i}`])
      await c.end()
      await srv.stop('SIGKILL')
      expect(controlState(srv.dataDir)).toBe(DB_IN_PRODUCTION) // crashed, not shut down
      // PostgreSQL's recovery starts at the redo point of the checkpoint pg_control names: past the early
      // 30 MB, which are not replayed
      const atKill = control(srv.dataDir)
      expect(atKill.redo).toBeGreaterThanOrEqual(early)

      again = await startServer({ dataDir: srv.dataDir, args: debug })
      expect(again.output()).toContain('did not shut down cleanly')
      expect(
        psql(again.url(), "SELECT count(*), sum(id), count(*) FILTER (WHERE pad LIKE 'late %') FROM k"),
      ).toBe(`30100|${(30100 * 30101) / 2}|100`)
      // recovery ended with its own checkpoint, after the one the kill left
      expect(control(srv.dataDir).checkpoint).toBeGreaterThan(atKill.checkpoint)
    } finally {
      await again?.stop()
      // (TestServer.stop waits for an exit that already happened when the process was killed by a signal)
      if (srv.proc.exitCode === null && srv.proc.signalCode === null) await srv.stop()
    }
  }, 120_000)
})
