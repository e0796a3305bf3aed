// Issue 14 workload d: a 10M-row query consumed through plcolumns.cursor's column batches (100,000 rows
// each, numpy): the pyglite process's peak RSS growth during the query (VmHWM after clearing it through
// /proc/<pid>/clear_refs, minus VmRSS before), which must stay under 200 MB — the result is never held
// whole. PostgreSQL 15's backend is measured the same way for the PL/Python way (plpy.cursor, fetch of
// 100,000 row dicts at a time) for comparison.
import fs from 'node:fs'
import { connect, fmt, time } from '../columns/measure.mjs'

const ROWS = 10_000_000
const LIMIT_MB = 200
const COLUMNS = `CREATE OR REPLACE FUNCTION stream_columns(n int8) RETURNS float8 LANGUAGE plpython3u AS $$
import plcolumns
total = 0.0
for c in plcolumns.cursor("SELECT g::float8 AS a FROM generate_series(1, %d) g" % n, batch=100000, kind="numpy"):
    total += float(c["a"].sum())
return total
$$`
const ROWWISE = `CREATE OR REPLACE FUNCTION stream_rows(n int8) RETURNS float8 LANGUAGE plpython3u AS $$
total = 0.0
cur = plpy.cursor("SELECT g::float8 AS a FROM generate_series(1, %d) g" % n)
while True:
    rows = cur.fetch(100000)
    if not rows:
        break
    total += sum(r["a"] for r in rows)
return total
$$`

function kb(pid, field) {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1])
}

/** Peak RSS growth (MB) of process `pid` while `sql` runs, and the run's time and rows. */
async function peak(c, pid, sql) {
  const before = kb(pid, 'VmRSS')
  fs.writeFileSync(`/proc/${pid}/clear_refs`, '5') // reset VmHWM to the current RSS
  const r = await time(c, sql)
  return { mb: (kb(pid, 'VmHWM') - before) / 1024, ...r }
}

export default {
  name: 'columns-stream',
  description: `issue 14 d: ${ROWS / 1e6}M rows through plcolumns.cursor batches of 100,000: peak RSS growth`,
  async run(urls) {
    const g = await connect(urls.pyglite)
    const r = await connect(urls.postgresql)
    try {
      await g.query(COLUMNS)
      await r.query(ROWWISE)
      const rpid = (await r.query('SELECT pg_backend_pid() AS p')).rows[0].p
      await g.query('SELECT stream_columns(1000)') // warm: plcolumns and numpy imported
      await r.query('SELECT stream_rows(1000)')
      const a = await peak(g, urls.pygliteProcess, `SELECT stream_columns(${ROWS}) AS s`)
      const b = await peak(r, rpid, `SELECT stream_rows(${ROWS}) AS s`)
      const want = (ROWS * (ROWS + 1)) / 2
      const ok = a.mb <= LIMIT_MB && a.rows[0].s === want && b.rows[0].s === want
      return {
        lines: [
          `pyglite plcolumns.cursor (numpy)       ${fmt(a.ms)}   peak RSS growth ${a.mb.toFixed(0)} MB (limit ${LIMIT_MB}: ${a.mb <= LIMIT_MB ? 'ok' : 'FAIL'})`,
          `postgresql 15 plpy.cursor fetch(1e5)   ${fmt(b.ms)}   peak RSS growth ${b.mb.toFixed(0)} MB (backend)`,
          `sums correct: ${a.rows[0].s === want && b.rows[0].s === want}`,
        ],
        ok,
      }
    } finally {
      await Promise.allSettled([g.end(), r.end()])
    }
  },
}
