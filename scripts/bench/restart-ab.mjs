#!/usr/bin/env node
// Restart time to the first answered query, two or more variants alternated on one data directory (an A/B
// of start-up changes: the machine's drift hits every variant alike). A variant is a comma-separated list
// of environment settings; BIN=<path to a pyglite.js> runs another build (e.g. a git worktree's), and
// NODEFLAGS='…' adds node flags. The data directory must exist (start the server on it once).
//   node scripts/bench/restart-ab.mjs <rounds> <data-dir> <variant> [<variant> …]
//   node scripts/bench/restart-ab.mjs 8 /tmp/d BIN=/tmp/old/bin/pyglite.js X=new
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import pg from 'pg'

const [rounds, dir, ...variants] = process.argv.slice(2)
if (!rounds || !dir || variants.length === 0) {
  process.stderr.write('usage: restart-ab.mjs <rounds> <data-dir> <variant> [<variant> …]\n')
  process.exit(2)
}
const BIN = fileURLToPath(new URL('../../bin/pyglite.js', import.meta.url))
const PORT = 5499

async function once(variant) {
  const env = { ...process.env }
  for (const kv of variant.split(',').filter(Boolean)) {
    const i = kv.indexOf('=')
    env[kv.slice(0, i)] = kv.slice(i + 1)
  }
  const flags = env.NODEFLAGS ? env.NODEFLAGS.split(' ') : []
  const args = ['--data-dir', dir, '--port', String(PORT), '--auth', 'trust', '--log-level', 'warn']
  const t0 = performance.now()
  const p = spawn(process.execPath, [...flags, env.BIN ?? BIN, ...args], { env, stdio: 'ignore' })
  for (;;) {
    const c = new pg.Client({ host: '127.0.0.1', port: PORT, user: 'postgres', database: 'postgres' })
    try {
      await c.connect()
      await c.query('SELECT 1')
      break
    } catch {
      if (p.exitCode !== null) throw new Error(`${variant}: the server exited (${p.exitCode})`)
      await new Promise((r) => setTimeout(r, 5))
    } finally {
      await c.end().catch(() => {})
    }
  }
  const ms = performance.now() - t0
  const exited = new Promise((r) => p.once('exit', r))
  p.kill('SIGTERM')
  await exited
  return ms
}

const times = variants.map(() => [])
for (let r = 0; r < Number(rounds); r++) for (const [i, v] of variants.entries()) times[i].push(await once(v))
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
for (const [i, v] of variants.entries())
  console.log(
    `${v}: median ${median(times[i]).toFixed(0)} ms (${times[i].map((t) => t.toFixed(0)).join(' ')})`,
  )
