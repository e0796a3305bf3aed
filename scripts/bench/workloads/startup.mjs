// Start-up and memory: first start on an empty data directory, restart, CREATE DATABASE (each to the first
// answered query) and idle memory after each, pyglite against PostgreSQL 15 in the same run. pyglite's
// memory is its process's RSS (one process); PostgreSQL's is the summed PSS of the postmaster and its
// children (shared memory counted once). Both with fsync on, as each ships.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { freePort, postgresTempDir, runAsPostgres } from '../refpg.mjs'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url))
const BIN = process.env.PYGLITE_REFPG_BIN ?? '/usr/lib/postgresql/15/bin'
/** how long a server sits idle before its memory is read */
const IDLE_MS = Number(process.env.PYGLITE_BENCH_IDLE_MS ?? 5000)

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const mb = (kb) => kb / 1024

function statusKb(pid, field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) : 0
}

function pssKb(pid) {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))
    return m ? Number(m[1]) : 0
  } catch {
    return 0 // the process ended meanwhile
  }
}

/** The postmaster and every process below it. */
function tree(root) {
  const children = new Map()
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)])
    } catch {}
  }
  const out = []
  const walk = (p) => {
    out.push(p)
    for (const c of children.get(p) ?? []) walk(c)
  }
  walk(root)
  return out
}

async function firstQuery(url) {
  for (;;) {
    const c = new pg.Client(url)
    try {
      await c.connect()
      await c.query('SELECT 1')
      return
    } catch (e) {
      if (!/ECONNREFUSED|starting up/.test(String(e))) throw e
      await sleep(5)
    } finally {
      await c.end().catch(() => {})
    }
  }
}

async function query(url, sql) {
  const c = new pg.Client(url)
  await c.connect()
  try {
    return await c.query(sql)
  } finally {
    await c.end()
  }
}

// ------------------------------------------------------------------------------------------------ pyglite

/** Start pyglite on `dir`; resolves at its first answered query: { ms, url, proc, out() }. */
async function startPyglite(dir, env = {}) {
  const t0 = performance.now()
  const proc = spawn(
    process.execPath,
    [path.join(ROOT, 'bin/pyglite.js'), '--port', '0', '--data-dir', dir, '--auth', 'trust'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  )
  let out = ''
  const port = await new Promise((resolve, reject) => {
    const on = (d) => {
      out += d
      const m = /"port":(\d+),"msg":"listening"/.exec(out)
      if (m) resolve(Number(m[1]))
    }
    proc.stdout.on('data', on)
    proc.stderr.on('data', on)
    proc.once('exit', (code) => reject(new Error(`pyglite exited (${code}) during start-up:\n${out}`)))
  })
  const base = `postgresql://postgres@127.0.0.1:${port}`
  await firstQuery(`${base}/postgres`)
  return { ms: performance.now() - t0, base, proc, out: () => out }
}

async function stopPyglite(s) {
  if (s.proc.exitCode !== null) return
  const done = new Promise((r) => s.proc.once('exit', r))
  s.proc.kill('SIGTERM')
  await done
}

async function pygliteRound(env = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-bench-startup-'))
  try {
    const r = {}
    let s = await startPyglite(dir, env)
    r.first = s.ms
    r.built = /built the pristine cluster/.test(s.out())
    await sleep(IDLE_MS)
    r.rssFirst = mb(statusKb(s.proc.pid, 'VmRSS'))
    let t0 = performance.now()
    await query(`${s.base}/postgres`, 'CREATE DATABASE bench_startup')
    r.createdb = performance.now() - t0
    t0 = performance.now()
    await firstQuery(`${s.base}/bench_startup`)
    r.connectNew = performance.now() - t0
    await sleep(IDLE_MS)
    r.rssTwoDbs = mb(statusKb(s.proc.pid, 'VmRSS'))
    await stopPyglite(s)
    s = await startPyglite(dir, env)
    r.restart = s.ms
    await sleep(IDLE_MS)
    r.rssRestart = mb(statusKb(s.proc.pid, 'VmRSS'))
    // a crash: the next start runs crash recovery (and the flush of what the killed process wrote)
    await query(`${s.base}/postgres`, 'CREATE TABLE bench_crash AS SELECT g FROM generate_series(1, 10000) g')
    const killed = new Promise((r) => s.proc.once('exit', r))
    s.proc.kill('SIGKILL')
    await killed
    s = await startPyglite(dir, env)
    r.crashRestart = s.ms
    await stopPyglite(s)
    return r
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

// ------------------------------------------------------------------------------------------- PostgreSQL

async function postgresRound() {
  const run = runAsPostgres
  const dir = postgresTempDir('pyglite-bench-refpg-')
  const data = path.join(dir, 'data')
  const port = await freePort()
  const url = (db) => `postgresql://postgres@127.0.0.1:${port}/${db}`
  const opts = `-c port=${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir}`
  const start = () =>
    run(path.join(BIN, 'pg_ctl'), ['-D', data, '-l', path.join(dir, 'log'), '-o', opts, 'start'])
  const stop = () => run(path.join(BIN, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop'])
  const pss = () => {
    const pid = Number(fs.readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0])
    return mb(tree(pid).reduce((a, p) => a + pssKb(p), 0))
  }
  try {
    const r = {}
    let t0 = performance.now()
    run(path.join(BIN, 'initdb'), ['-D', data, '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--auth=trust'])
    r.initdb = performance.now() - t0
    start()
    await firstQuery(url('postgres'))
    r.first = performance.now() - t0
    await sleep(IDLE_MS)
    r.rssFirst = pss()
    t0 = performance.now()
    await query(url('postgres'), 'CREATE DATABASE bench_startup')
    r.createdb = performance.now() - t0
    t0 = performance.now()
    await firstQuery(url('bench_startup'))
    r.connectNew = performance.now() - t0
    // a session in each database, as pyglite keeps each database open
    const held = new pg.Client(url('bench_startup'))
    await held.connect()
    await sleep(IDLE_MS)
    r.rssTwoDbs = pss()
    await held.end()
    stop()
    t0 = performance.now()
    start()
    await firstQuery(url('postgres'))
    r.restart = performance.now() - t0
    await sleep(IDLE_MS)
    r.rssRestart = pss()
    // a crash (immediate shutdown: no checkpoint, crash recovery at the next start)
    await query(url('postgres'), 'CREATE TABLE bench_crash AS SELECT g FROM generate_series(1, 10000) g')
    run(path.join(BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'])
    t0 = performance.now()
    start()
    await firstQuery(url('postgres'))
    r.crashRestart = performance.now() - t0
    stop()
    return r
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

export default {
  name: 'startup',
  description:
    'first start on an empty data directory, restart, restart after a crash, CREATE DATABASE (to the first answered query), idle memory',
  async run(_urls, runs) {
    const rounds = Math.max(1, Math.min(runs, Number(process.env.PYGLITE_BENCH_STARTUP_ROUNDS ?? 3)))
    const py = []
    const ref = []
    for (let i = 0; i < rounds; i++) {
      // alternate which goes first: the machine's load drifts
      if (i % 2) {
        ref.push(await postgresRound())
        py.push(await pygliteRound())
      } else {
        py.push(await pygliteRound())
        ref.push(await postgresRound())
      }
    }
    const nocache = await pygliteRound({ PYGLITE_CACHE_DIR: 'off' })
    const s = (xs, k) => (median(xs.map((x) => x[k])) / 1000).toFixed(2)
    const m = (xs, k) => median(xs.map((x) => x[k])).toFixed(0)
    const runsOf = (xs, k) => xs.map((x) => (x[k] / 1000).toFixed(2)).join(' ')
    const built = py.filter((r) => r.built).length
    const lines = [
      `rounds ${rounds}, medians; idle ${IDLE_MS} ms before each memory reading; loadavg ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
      `first start to first query   pyglite ${s(py, 'first')} s (runs ${runsOf(py, 'first')})   postgresql initdb+start ${s(ref, 'first')} s (initdb ${s(ref, 'initdb')} s)`,
      `  without the pristine cache (PYGLITE_CACHE_DIR=off, initdb in the server): ${(nocache.first / 1000).toFixed(2)} s${built ? `; ${built} round(s) built the cache` : ''}`,
      `restart to first query       pyglite ${s(py, 'restart')} s (runs ${runsOf(py, 'restart')})   postgresql ${s(ref, 'restart')} s`,
      `restart after a crash        pyglite ${s(py, 'crashRestart')} s (runs ${runsOf(py, 'crashRestart')})   postgresql ${s(ref, 'crashRestart')} s (SIGKILL / pg_ctl stop -m immediate, then crash recovery)`,
      `CREATE DATABASE              pyglite ${s(py, 'createdb')} s (runs ${runsOf(py, 'createdb')})   postgresql ${s(ref, 'createdb')} s`,
      `  then connect + first query pyglite ${s(py, 'connectNew')} s   postgresql ${s(ref, 'connectNew')} s`,
      `idle memory after first start  pyglite RSS ${m(py, 'rssFirst')} MB   postgresql PSS ${m(ref, 'rssFirst')} MB`,
      `  with a second database open  pyglite RSS ${m(py, 'rssTwoDbs')} MB   postgresql PSS ${m(ref, 'rssTwoDbs')} MB (a session in each)`,
      `  after a restart              pyglite RSS ${m(py, 'rssRestart')} MB   postgresql PSS ${m(ref, 'rssRestart')} MB`,
      `  without the cache: first start RSS ${nocache.rssFirst.toFixed(0)} MB, restart ${(nocache.restart / 1000).toFixed(2)} s`,
    ]
    return { lines, ok: true }
  },
}
