// Helpers of the columns workloads (issue 14, docs/columns.md): time a statement on a connection, a
// median, and a Python client run with Debian's python3 (psycopg2 + numpy).
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import pg from 'pg'

const run = promisify(execFile)

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

export async function connect(url) {
  const c = new pg.Client(url)
  await c.connect()
  return c
}

/** Milliseconds of one execution of `sql`, and its rows. */
export async function time(c, sql) {
  const t0 = performance.now()
  const r = await c.query(sql)
  return { ms: performance.now() - t0, rows: r.rows }
}

/** Run `script` (Python source) with Debian's python3 and `args`; its stdout, trimmed. */
export async function python(script, args) {
  const { stdout } = await run('/usr/bin/python3', ['-c', script, ...args], { timeout: 600_000 })
  return stdout.trim()
}

export const fmt = (ms) => `${ms.toFixed(0).padStart(6)} ms`
