#!/usr/bin/env node
// Automatic checkpoints' effect on crash recovery, for docs/durability.md: write N rows of 1 kB, kill -9,
// time the restart (spawn to "listening"), with automatic checkpoints off (PYGLITE_CHECKPOINT_INTERVAL_MS=0:
// everything since the start is replayed) and on (2 s interval; the kill comes after the checkpoint that
// followed the writes). Alternated in one run, so machine load hits both alike.
// Usage: node scripts/durability/checkpoints.mjs [rows=200000] [rounds=2]   (run `npm run build` first)
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { start, stop } from './server.mjs'

const ROWS = Number(process.argv[2] ?? 200_000)
const ROUNDS = Number(process.argv[3] ?? 2)

async function one(interval) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-ckpt-'))
  try {
    let s = await start(dir, { env: { PYGLITE_CHECKPOINT_INTERVAL_MS: String(interval) } })
    const c = new pg.Client({ connectionString: s.url })
    await c.connect()
    await c.query('CREATE TABLE k(id int, pad text)')
    for (let done = 0; done < ROWS; done += 20_000)
      await c.query("INSERT INTO k SELECT g, repeat('x', 1000) FROM generate_series($1::int, $2::int) g", [
        done + 1,
        Math.min(done + 20_000, ROWS),
      ])
    const end = BigInt((await c.query("SELECT pg_current_wal_insert_lsn() - '0/0' AS p")).rows[0].p)
    const redo = async () =>
      BigInt((await c.query("SELECT redo_lsn - '0/0' AS r FROM pg_control_checkpoint()")).rows[0].r)
    for (let i = 0; interval > 0 && i < 200 && (await redo()) < end; i++)
      await new Promise((r) => setTimeout(r, 100))
    const replay = end - (await redo())
    await c.end()
    await stop(s, 'SIGKILL')
    s = await start(dir, { env: { PYGLITE_CHECKPOINT_INTERVAL_MS: '0' } })
    const restartMs = s.ms
    await stop(s)
    return { replayMB: Number(replay) / 2 ** 20, restartMs }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

for (let r = 1; r <= ROUNDS; r++)
  for (const interval of [0, 2000]) {
    const { replayMB, restartMs } = await one(interval)
    console.log(
      `round ${r} automatic checkpoints ${interval ? 'on ' : 'off'}: WAL to replay ${replayMB.toFixed(1)} MB, restart after kill -9 ${(restartMs / 1000).toFixed(2)} s (loadavg ${os.loadavg()[0].toFixed(1)})`,
    )
  }
