#!/usr/bin/env node
// Durability figures for docs/durability.md, all in one run (so machine load hits them alike):
//  - commit latency of single-row autocommit INSERTs, one client, --fsync on vs --fsync off;
//  - reopen time (spawn to "listening") after a clean stop vs after SIGKILL, with the same writes before;
//  - a live and an offline `pyglite backup` of the same directory.
// Usage: node scripts/durability/measure.mjs [commits=400] [rounds=3]   (run `npm run build` first)
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { BIN, start, stop } from './server.mjs'

const COMMITS = Number(process.argv[2] ?? 400)
const ROUNDS = Number(process.argv[3] ?? 3)

async function latencies(url, n) {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  await c.query('CREATE TABLE IF NOT EXISTS lat(id serial, v text)')
  const ms = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    await c.query("INSERT INTO lat(v) VALUES ('x')")
    ms.push(performance.now() - t)
  }
  await c.end()
  return ms.sort((a, b) => a - b)
}
const q = (a, p) => a[Math.min(a.length - 1, Math.floor(a.length * p))].toFixed(2)
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1].toFixed(0)

async function writeSome(url) {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  await c.query('CREATE TABLE IF NOT EXISTS w(id int, pad text)')
  await c.query("INSERT INTO w SELECT g, repeat('p', 200) FROM generate_series(1, 50000) g")
  await c.end()
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-measure-'))
try {
  let s = await start(dir)
  console.log(`first start (initdb) ${s.ms.toFixed(0)} ms`)
  await stop(s)
  const lat = { on: [], off: [] }
  for (let r = 0; r < ROUNDS; r++)
    for (const mode of ['on', 'off']) {
      s = await start(dir, { args: ['--fsync', mode] })
      lat[mode].push(...(await latencies(s.url, COMMITS)))
      await stop(s)
    }
  for (const mode of ['on', 'off']) {
    const a = lat[mode].sort((x, y) => x - y)
    console.log(
      `commit latency --fsync ${mode}: median ${q(a, 0.5)} ms, p90 ${q(a, 0.9)} ms, p99 ${q(a, 0.99)} ms (${a.length} commits)`,
    )
  }
  const reopen = { clean: [], killed: [] }
  for (let r = 0; r < ROUNDS; r++)
    for (const how of ['clean', 'killed']) {
      s = await start(dir)
      await writeSome(s.url)
      await stop(s, how === 'clean' ? 'SIGTERM' : 'SIGKILL')
      s = await start(dir)
      reopen[how].push(s.ms)
      await stop(s)
    }
  console.log(
    `reopen after a clean stop: median ${med(reopen.clean)} ms (${reopen.clean.map((x) => x.toFixed(0)).join(', ')})`,
  )
  console.log(
    `reopen after SIGKILL (crash recovery): median ${med(reopen.killed)} ms (${reopen.killed.map((x) => x.toFixed(0)).join(', ')})`,
  )
  const size = execFileSync('du', ['-sm', dir], { encoding: 'utf8' }).split('\t')[0]
  s = await start(dir)
  const live = execFileSync(process.execPath, [BIN, 'backup', `${dir}.b1`, '--data-dir', dir], {
    encoding: 'utf8',
  })
  await stop(s)
  const off = execFileSync(process.execPath, [BIN, 'backup', `${dir}.b2`, '--data-dir', dir], {
    encoding: 'utf8',
  })
  console.log(`data directory ${size} MB\n${live.trim()}\n${off.trim()}`)
  console.log(
    `loadavg ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}, ${os.cpus().length} cores`,
  )
} finally {
  for (const d of [dir, `${dir}.b1`, `${dir}.b2`]) fs.rmSync(d, { recursive: true, force: true })
}
