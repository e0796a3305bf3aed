// Measures several databases on a real pyglite server (a fresh data directory): CREATE DATABASE (the
// first one also initialises the template cluster), first connection, reopen after the idle close, DROP
// DATABASE, and the server's RSS with 1..4 open databases. Optional yardstick: CREATE/DROP DATABASE on a
// real PostgreSQL (REF_URL, e.g. postgresql://postgres@127.0.0.1:55432/postgres), in the same run.
// Usage: npm run build && node scripts/measure-databases.mjs
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-measure-db-'))
const proc = spawn(
  process.execPath,
  [path.join(ROOT, 'bin/pyglite.js'), '--port', '0', '--data-dir', dataDir, '--auth', 'trust'],
  { env: { ...process.env, PYGLITE_DB_IDLE_CLOSE_MS: '1000' }, stdio: ['ignore', 'pipe', 'pipe'] },
)
let out = ''
proc.stdout.on('data', (d) => (out += d))
proc.stderr.on('data', (d) => (out += d))
const port = await new Promise((resolve, reject) => {
  const t = setInterval(() => {
    const m = /"port":(\d+),"msg":"listening"/.exec(out)
    if (m) {
      clearInterval(t)
      resolve(Number(m[1]))
    }
  }, 50)
  proc.once('exit', (c) => reject(new Error(`server exited (${c}):\n${out}`)))
})
const rssMb = () => {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${proc.pid}/status`, 'utf8'))
  return Math.round(Number(m[1]) / 1024)
}
const timed = async (f) => {
  const t0 = performance.now()
  await f()
  return Math.round(performance.now() - t0)
}
const client = async (database, conn = { host: '127.0.0.1', port }) => {
  const c = new pg.Client({ ...conn, user: 'postgres', database })
  await c.connect()
  return c
}
const admin = await client('postgres')
const results = {
  loadavg: os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' '),
}
results.rssOneDbMb = rssMb()
results.firstCreateMs = await timed(() => admin.query('CREATE DATABASE m0'))
const creates = []
for (let i = 1; i <= 3; i++) creates.push(await timed(() => admin.query(`CREATE DATABASE m${i}`)))
results.createMs = creates
results.firstConnectMs = await timed(async () => {
  const c = await client('m1')
  await c.query('SELECT 1')
  await c.end()
})
// keep four databases open (postgres, m1..m3), with a Python function called in each
const held = []
for (const db of ['m1', 'm2', 'm3']) {
  const c = await client(db)
  await c.query(`CREATE FUNCTION f() RETURNS int LANGUAGE plpython3u AS 'return 1'`)
  await c.query('SELECT f()')
  held.push(c)
}
results.rssFourDbsMb = rssMb()
for (const c of held) await c.end()
await new Promise((r) => setTimeout(r, 3000)) // idle close (1 s here)
results.rssAfterIdleCloseMb = rssMb()
results.reopenConnectMs = await timed(async () => {
  const c = await client('m2')
  await c.query('SELECT f()')
  await c.end()
})
const drops = []
for (let i = 0; i <= 3; i++) drops.push(await timed(() => admin.query(`DROP DATABASE m${i}`)))
results.dropMs = drops
await admin.end()
if (process.env.REF_URL) {
  const ref = new pg.Client({ connectionString: process.env.REF_URL })
  await ref.connect()
  await ref.query('DROP DATABASE IF EXISTS pyglite_measure_db')
  results.refCreateMs = await timed(() => ref.query('CREATE DATABASE pyglite_measure_db'))
  results.refDropMs = await timed(() => ref.query('DROP DATABASE pyglite_measure_db'))
  await ref.end()
}
results.templateInitMs = Number(/"ms":(\d+),"msg":"initialised the template cluster"/.exec(out)?.[1])
// per CREATE DATABASE: total and the helper thread's part (copy, PGlite start, roles, CREATE DATABASE)
results.createLog = [...out.matchAll(/"ms":(\d+),"helperMs":(\d+),"msg":"created a database"/g)].map(
  (m) => `${m[1]} (helper ${m[2]})`,
)
proc.kill('SIGTERM')
await new Promise((r) => proc.once('exit', r))
fs.rmSync(dataDir, { recursive: true, force: true })
console.log(JSON.stringify(results, null, 1))
