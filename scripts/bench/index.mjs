#!/usr/bin/env node
// `npm run bench`: each workload (one module per file in scripts/bench/workloads/) runs on pyglite and on
// a reference PostgreSQL 15 + plpython3u in the same run, interleaved round by round (the order alternates)
// on this noisy machine; medians, µs per row and the ratio pyglite / PostgreSQL are printed. A workload
// whose ratio exceeds its maxRatio fails the run. A workload with its own `run(urls, runs)` (pgbench, say)
// measures both servers itself and returns the lines to print. See scripts/bench/README.md.
//
// A workload module exports { name, description, rows?, setup?: SQL[], query, check?(rows), maxRatio? }
// and optionally:
//   before: SQL[]          run untimed before every timed run of `query` (e.g. TRUNCATE)
//   verify: { sql, check(rows) }   run once after the rounds on each server
//   baseline: { query, before? }   a second statement timed in the same rounds on both servers; then the
//                          overhead (median query - median baseline) is compared between the servers and
//                          maxOverheadRatio limits pyglite's overhead / PostgreSQL's overhead
//
//   node scripts/bench/index.mjs [--runs N] [workload-name ...]
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { startPyglite } from './pyglite.mjs'
import { startReference } from './refpg.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))

async function loadWorkloads(only) {
  const dir = path.join(HERE, 'workloads')
  const all = []
  for (const f of fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.mjs'))
    .sort()) {
    const w = (await import(path.join(dir, f))).default
    if (!only.length || only.includes(w.name)) all.push(w)
  }
  return all
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

async function timed(client, w) {
  for (const s of w.before ?? []) await client.query(s)
  const t0 = performance.now()
  const r = await client.query(w.query)
  const ms = performance.now() - t0
  if (w.check && !w.check(r.rows))
    throw new Error(`${w.name}: wrong result ${JSON.stringify(r.rows).slice(0, 200)}`)
  return ms
}

async function main(argv) {
  let runs = 7
  const only = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--runs') runs = Number(argv[++i])
    else only.push(argv[i])
  }
  const workloads = await loadWorkloads(only)
  const ref = await startReference()
  const py = await startPyglite()
  let failed = false
  try {
    console.log(`reference: ${ref.version}`)
    console.log(
      `runs per workload: ${runs} (interleaved), loadavg ${fs.readFileSync('/proc/loadavg', 'utf8').trim()}`,
    )
    for (const w of workloads) {
      if (typeof w.run === 'function') {
        console.log(`\n${w.name}: ${w.description}`)
        const r = await w.run({ pyglite: py.url, postgresql: ref.url }, runs)
        for (const line of r.lines) console.log(`  ${line}`)
        if (r.ok === false) failed = true
        continue
      }
      const clients = { pyglite: new pg.Client(py.url), postgresql: new pg.Client(ref.url) }
      for (const c of Object.values(clients)) {
        await c.connect()
        for (const s of w.setup ?? []) await c.query(s)
      }
      const t = { pyglite: [], postgresql: [] }
      const b = { pyglite: [], postgresql: [] }
      const base = w.baseline ? { name: w.name, ...w.baseline } : null
      for (const name of Object.keys(clients)) {
        await timed(clients[name], w) // warm-up
        if (base) await timed(clients[name], base)
      }
      for (let r = 0; r < runs; r++) {
        const order = r % 2 ? ['postgresql', 'pyglite'] : ['pyglite', 'postgresql']
        for (const name of order) {
          t[name].push(await timed(clients[name], w))
          if (base) b[name].push(await timed(clients[name], base))
        }
      }
      for (const [name, c] of Object.entries(clients)) {
        if (w.verify && !w.verify.check((await c.query(w.verify.sql)).rows))
          throw new Error(`${w.name}: verification failed on ${name}`)
        await c.end()
      }
      const mp = median(t.pyglite)
      const mr = median(t.postgresql)
      const ratio = mp / mr
      const paired = median(t.pyglite.map((v, i) => v / t.postgresql[i]))
      const ok = !w.maxRatio || ratio <= w.maxRatio
      if (!ok) failed = true
      const us = (ms) => (w.rows ? ` (${((ms * 1000) / w.rows).toFixed(3)} µs/row)` : '')
      console.log(`\n${w.name}: ${w.description}`)
      console.log(
        `  pyglite    median ${mp.toFixed(1)} ms${us(mp)}  runs ${t.pyglite.map((v) => v.toFixed(0)).join(' ')}`,
      )
      console.log(
        `  postgresql median ${mr.toFixed(1)} ms${us(mr)}  runs ${t.postgresql.map((v) => v.toFixed(0)).join(' ')}`,
      )
      console.log(
        `  ratio pyglite/postgresql ${ratio.toFixed(2)} (paired ${paired.toFixed(2)})${w.maxRatio ? `  limit ${w.maxRatio}: ${ok ? 'ok' : 'FAIL'}` : ''}`,
      )
      if (base) {
        const bp = median(b.pyglite)
        const br = median(b.postgresql)
        const op = mp - bp
        const or = mr - br
        const oratio = op / or
        const ook = !w.maxOverheadRatio || oratio <= w.maxOverheadRatio
        if (!ook) failed = true
        console.log(`  baseline: ${w.baseline.query}`)
        console.log(
          `  pyglite    median ${bp.toFixed(1)} ms${us(bp)}  runs ${b.pyglite.map((v) => v.toFixed(0)).join(' ')}`,
        )
        console.log(
          `  postgresql median ${br.toFixed(1)} ms${us(br)}  runs ${b.postgresql.map((v) => v.toFixed(0)).join(' ')}`,
        )
        console.log(
          `  overhead: pyglite ${op.toFixed(1)} ms${us(op)}, postgresql ${or.toFixed(1)} ms${us(or)}`,
        )
        console.log(
          `  overhead ratio pyglite/postgresql ${oratio.toFixed(2)}${w.maxOverheadRatio ? `  limit ${w.maxOverheadRatio}: ${ook ? 'ok' : 'FAIL'}` : ''}`,
        )
      }
    }
  } finally {
    await py.stop()
    ref.stop()
  }
  process.exit(failed ? 1 : 0)
}

await main(process.argv.slice(2))
