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
//   target                 the ratio the product aims at (issue 8); printed as met/missed, never fails
//                          the run (the limits above catch regressions; targets are goals on a noisy box)
//
//   node scripts/bench/index.mjs [--runs N] [--perf] [workload-name ...]
//
// --perf: after the timed rounds, each timed workload runs once more per server under
// `perf stat -e instructions,cycles` attached to the pyglite process (all its threads) and to the
// PostgreSQL backend of the connection; per-row counts and their ratio are printed. Instruction counts
// hardly move with the machine's load, unlike wall time on this shared 2-core box.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
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

const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').trim().split(' ').slice(0, 3).join(' ')

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

/** One execution of the workload's query with perf stat attached to `pid`: { instructions, cycles }. */
async function counted(client, w, pid) {
  for (const s of w.before ?? []) await client.query(s)
  const out = path.join(os.tmpdir(), `pyglite-bench-perf-${process.pid}.txt`)
  const perf = spawn('perf', ['stat', '-e', 'instructions,cycles', '-x,', '-o', out, '-p', String(pid)], {
    stdio: 'ignore',
  })
  await new Promise((r) => setTimeout(r, 300)) // perf attaches
  await client.query(w.query)
  const exited = new Promise((r) => perf.once('exit', r))
  perf.kill('SIGINT')
  await exited
  const v = {}
  for (const line of fs.readFileSync(out, 'utf8').split('\n')) {
    const f = line.split(',')
    if (f[2] === 'instructions' || f[2] === 'cycles') v[f[2]] = Number(f[0])
  }
  fs.rmSync(out, { force: true })
  return v
}

async function main(argv) {
  let runs = 7
  let withPerf = false
  const only = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--runs') runs = Number(argv[++i])
    else if (argv[i] === '--perf') withPerf = true
    else only.push(argv[i])
  }
  const workloads = await loadWorkloads(only)
  const ref = await startReference()
  let py
  let failed = false
  const summary = []
  try {
    py = await startPyglite() // inside the try: a pyglite that fails to start must not leave PostgreSQL running
    console.log(`reference: ${ref.version}`)
    console.log(`runs per workload: ${runs} (interleaved), loadavg ${loadavg()}`)
    for (const w of workloads) {
      if (typeof w.run === 'function') {
        console.log(`\n${w.name}: ${w.description}`)
        const r = await w.run({ pyglite: py.url, postgresql: ref.url, pygliteProcess: py.pid }, runs)
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
      const counts = {}
      if (withPerf) {
        for (const [name, c] of Object.entries(clients)) {
          const pid = name === 'pyglite' ? py.pid : (await c.query('SELECT pg_backend_pid() AS p')).rows[0].p
          counts[name] = await counted(c, w, pid)
          if (base) counts[`${name}-base`] = await counted(c, base, pid)
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
      const target = w.target ? `  target ≤ ${w.target}: ${ratio <= w.target ? 'met' : 'missed'}` : ''
      console.log(
        `  ratio pyglite/postgresql ${ratio.toFixed(2)} (paired ${paired.toFixed(2)})${w.maxRatio ? `  limit ${w.maxRatio}: ${ok ? 'ok' : 'FAIL'}` : ''}${target}`,
      )
      summary.push({ name: w.name, mp, mr, ratio, paired, target: w.target })
      if (withPerf) {
        const per = (v) => (v / (w.rows ?? 1) / 1000).toFixed(1)
        const { pyglite: p, postgresql: q } = counts
        console.log(
          `  perf stat per ${w.rows ? 'row' : 'run'}: pyglite ${per(p.instructions)}k instructions ${per(p.cycles)}k cycles, postgresql ${per(q.instructions)}k instructions ${per(q.cycles)}k cycles; ratio instructions ${(p.instructions / q.instructions).toFixed(2)} cycles ${(p.cycles / q.cycles).toFixed(2)}`,
        )
        if (base) {
          const pb = counts['pyglite-base']
          const qb = counts['postgresql-base']
          const oi = (p.instructions - pb.instructions) / (q.instructions - qb.instructions)
          const oc = (p.cycles - pb.cycles) / (q.cycles - qb.cycles)
          console.log(
            `  perf stat overhead per row: pyglite ${per(p.instructions - pb.instructions)}k instructions ${per(p.cycles - pb.cycles)}k cycles, postgresql ${per(q.instructions - qb.instructions)}k instructions ${per(q.cycles - qb.cycles)}k cycles; ratio instructions ${oi.toFixed(2)} cycles ${oc.toFixed(2)}`,
          )
        }
        summary.at(-1).ic = p.instructions / q.instructions
        summary.at(-1).cc = p.cycles / q.cycles
      }
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
    if (summary.length) {
      console.log(`\nsummary (medians of ${runs} interleaved runs; loadavg ${loadavg()})`)
      console.log(
        `  workload                    pyglite ms   postgresql ms   ratio  paired  target${withPerf ? '        instr cycles' : ''}`,
      )
      for (const r of summary)
        console.log(
          `  ${r.name.padEnd(26)} ${r.mp.toFixed(1).padStart(10)} ${r.mr.toFixed(1).padStart(15)} ${r.ratio.toFixed(2).padStart(7)} ${r.paired.toFixed(2).padStart(7)}  ${(r.target ? `≤ ${r.target} ${r.ratio <= r.target ? 'met' : 'missed'}` : '-').padEnd(12)}${r.ic ? ` ${r.ic.toFixed(2).padStart(5)} ${r.cc.toFixed(2).padStart(6)}` : ''}`,
        )
    }
  } finally {
    try {
      await py?.stop()
    } finally {
      ref.stop()
    }
  }
  process.exit(failed ? 1 : 0)
}

await main(process.argv.slice(2))
