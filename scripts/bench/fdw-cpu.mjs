#!/usr/bin/env node
// CPU time of the fdw-scan and fdw-sink workloads (issue 15) on pyglite and on PostgreSQL 15, for a
// machine too loaded for wall-clock ratios (perf counters are not available in this VM): the CPU seconds
// the serving process spent during each statement — all of pyglite's threads (/proc/<pid>/stat), the
// PostgreSQL backend of the connection (pg_backend_pid) — medians of interleaved runs.
// Usage: node scripts/bench/fdw-cpu.mjs [--runs N]
import fs from 'node:fs'
import pg from 'pg'
import { startPyglite } from './pyglite.mjs'
import { startReference } from './refpg.mjs'

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 5
const TICK = 100 // USER_HZ

function cpu(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(f[11]) + Number(f[12])) / TICK // utime + stime, seconds
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const py = await startPyglite()
const ref = await startReference()
try {
  const servers = {
    pyglite: { client: new pg.Client(py.url), pid: py.pid },
    postgresql: { client: new pg.Client(ref.url), pid: 0 },
  }
  for (const s of Object.values(servers)) await s.client.connect()
  servers.postgresql.pid = (await servers.postgresql.client.query('SELECT pg_backend_pid() AS p')).rows[0].p
  for (const name of ['fdw-scan', 'fdw-sink']) {
    const w = (await import(`./workloads/${name}.mjs`)).default
    const t = { pyglite: [], postgresql: [] }
    const c = { pyglite: [], postgresql: [] }
    for (const s of Object.values(servers)) {
      for (const q of w.setup) await s.client.query(q)
      await s.client.query(w.query) // warm-up
    }
    for (let i = 0; i < runs; i++) {
      const order = i % 2 ? ['postgresql', 'pyglite'] : ['pyglite', 'postgresql']
      for (const k of order) {
        const s = servers[k]
        const c0 = cpu(s.pid)
        const t0 = performance.now()
        await s.client.query(w.query)
        t[k].push(performance.now() - t0)
        c[k].push(cpu(s.pid) - c0)
      }
    }
    const [cp, cr] = [median(c.pyglite), median(c.postgresql)]
    const [tp, tr] = [median(t.pyglite), median(t.postgresql)]
    console.log(
      `${name}: CPU pyglite ${cp.toFixed(2)} s, postgresql ${cr.toFixed(2)} s, ratio ${(cp / cr).toFixed(2)}; ` +
        `wall ${tp.toFixed(0)} / ${tr.toFixed(0)} ms, ratio ${(tp / tr).toFixed(2)} (${runs} runs, loadavg ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})`,
    )
  }
  for (const s of Object.values(servers)) await s.client.end()
} finally {
  ref.stop()
  await py.stop()
}
