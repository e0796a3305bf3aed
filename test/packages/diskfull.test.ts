// A package install on a full disk (issue 16, point 7): the server's data directory — and so its Python
// environment, <data-dir>/python-env — sits on a small tmpfs of its own. Filled up, an install fails with
// 53100 (disk_full) and changes nothing: what was installed still imports, the failed package left no file,
// the database's rows are intact and writable; once space is freed the same install succeeds, and a restart
// finds everything. Needs root (mount); as root a mount that fails fails the test instead of skipping it.
import { execFileSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, TEMPLATE_ENV, type TestServer } from '../helpers/server.js'
import { type Client, connect, failure, fn, value } from '../plpython/util.js'
import { buildWheel, serverEnv } from './build.js'

const root = process.getuid?.() === 0
if (!root)
  console.warn(
    'diskfull.test.ts skipped: mounting a tmpfs needs root, and this test runs as uid',
    process.getuid?.(),
  )

let dir: string
let mnt: string
let mounted = false
let wheelhouse: string
let home: string
let dataDir: string
let srv: TestServer | undefined
let c: Client | undefined
let args: string[]

/** 8 MiB of random bytes: bigpkg's data file, larger than the space left on the tmpfs. */
const PAYLOAD = 8 << 20

const free = () => {
  const s = fs.statfsSync(mnt)
  return s.bavail * s.bsize
}
/** A file that takes all but `leave` bytes of the tmpfs (fallocate: pages are really taken). */
const fill = (name: string, leave: number) => {
  const n = free() - leave
  if (n > 0) execFileSync('fallocate', ['-l', String(n), path.join(mnt, name)])
}
const site = () => path.join(dataDir, 'python-env', 'lib', 'python3.11', 'site-packages')
const client = () => c!

async function start(): Promise<void> {
  srv = await startServer({ dataDir, args, env: serverEnv(home) })
  c = await connect(srv)
}

beforeAll(async () => {
  if (!root) return
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-diskfull-'))
  mnt = path.join(dir, 'mnt')
  wheelhouse = path.join(dir, 'wheelhouse')
  home = path.join(dir, 'home')
  fs.mkdirSync(mnt)
  fs.mkdirSync(wheelhouse)
  fs.mkdirSync(home)
  // as root the mount must work: an error here fails the file, it does not skip it
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1g,mode=0755', 'tmpfs', mnt], { stdio: 'pipe' })
  mounted = true
  dataDir = path.join(mnt, 'data')
  const template = process.env[TEMPLATE_ENV]
  if (template) fs.cpSync(template, dataDir, { recursive: true })
  buildWheel(wheelhouse, 'tinypkg', '1.0')
  buildWheel(wheelhouse, 'bigpkg', '1.0', {
    extra: 'import os\nSIZE = os.path.getsize(os.path.join(os.path.dirname(__file__), "payload.bin"))\n',
    files: { 'payload.bin': crypto.randomBytes(PAYLOAD) },
  })
  args = ['--python-find-links', wheelhouse, '--python-no-index']
  await start()
  await fn(client(), 'tiny_version() RETURNS text', 'import tinypkg\nreturn tinypkg.VERSION')
  await fn(client(), 'big_size() RETURNS int', 'import bigpkg\nreturn bigpkg.SIZE')
  await client().query(`CALL pyglite.install('tinypkg==1.0')`)
  await client().query(
    `CREATE TABLE kept AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 5000) g;
     ALTER TABLE kept ADD PRIMARY KEY (id); CHECKPOINT`,
  )
}, 240_000)

afterAll(async () => {
  await c?.end().catch(() => {})
  await srv?.stop()
  if (mounted) {
    try {
      execFileSync('umount', [mnt], { stdio: 'pipe' })
    } catch {
      execFileSync('umount', ['-l', mnt], { stdio: 'pipe' }) // something still has a file open: detach it
    }
  }
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
}, 60_000)

/** The state a failed install must leave: the environment, its log and the database as before. */
async function unchanged(): Promise<void> {
  const c = client()
  expect(await value(c, 'SELECT tiny_version()')).toBe('1.0')
  const e = await failure(c, 'SELECT big_size()')
  expect(e.message).toBe(`ModuleNotFoundError: No module named 'bigpkg'`)
  expect(fs.readdirSync(site()).filter((f) => f.startsWith('bigpkg'))).toEqual([])
  for (const left of ['python-env.previous', 'python-env.failed', 'python-env.changing'])
    expect(fs.existsSync(path.join(dataDir, left)), left).toBe(false)
  const pkgs = await c.query(`SELECT name, version FROM pyglite.packages WHERE name <> 'pip' ORDER BY name`)
  expect(pkgs.rows.filter((r) => r.name !== 'setuptools')).toEqual([{ name: 'tinypkg', version: '1.0' }])
  const kept = await c.query('SELECT count(*)::int AS n, sum(id)::int AS s FROM kept WHERE h = md5(id::text)')
  expect(kept.rows[0]).toEqual({ n: 5000, s: 12_502_500 })
}

describe.skipIf(!root)('an install on a full disk', () => {
  it('fails with 53100 when the package does not fit, and leaves the environment and the data as they were', async () => {
    fill('filler-1', 2 << 20) // 2 MiB left: the database still writes, bigpkg (8 MiB) does not fit
    const c = client()
    const e = await failure(c, `CALL pyglite.install('bigpkg')`)
    expect([e.code, e.message]).toEqual([
      '53100',
      'could not install "bigpkg": Could not install packages due to an OSError: [Errno 28] No space left on device',
    ])
    expect(e.hint).toBe(
      `The Python environment was left as it was. Free space in the filesystem of "${path.join(dataDir, 'python-env')}" (and of pip's temporary directory, ${os.tmpdir()}) and try again.`,
    )
    await unchanged()
    const log = await c.query(`SELECT state, error FROM pyglite.installs ORDER BY id DESC LIMIT 1`)
    expect(log.rows[0].state).toBe('failed')
    expect(log.rows[0].error).toBe(e.message)
    await c.query('INSERT INTO kept VALUES (5001, md5(5001::text))') // the database still takes writes
    await c.query('DELETE FROM kept WHERE id = 5001')
  })

  it('fails with 53100 when not a byte is left, and the server goes on', async () => {
    fill('filler-2', 0)
    expect(free()).toBe(0)
    const c = client()
    const e = await failure(c, `CALL pyglite.install('bigpkg')`)
    expect([e.code, e.message, e.hint]).toEqual([
      '53100',
      'could not install "bigpkg": No space left on device',
      `The Python environment was left as it was. Free space in the filesystem of "${path.join(dataDir, 'python-env')}" and try again.`,
    ])
    expect(e.detail).toMatch(/ENOSPC|No space left on device/) // the marker, or cp -al where directories take space
    // reads go on while the disk is full
    expect(await value(c, 'SELECT count(*)::int FROM kept')).toBe(5000)
    expect(await value(c, 'SELECT tiny_version()')).toBe('1.0')
    fs.rmSync(path.join(mnt, 'filler-2'))
    await unchanged()
  })

  it('installs once space is freed, and a restart finds the package and the rows', async () => {
    fs.rmSync(path.join(mnt, 'filler-1'))
    const c = client()
    await c.query(`CALL pyglite.install('bigpkg')`)
    expect(await value(c, 'SELECT big_size()')).toBe(PAYLOAD)
    expect(await value(c, 'SELECT tiny_version()')).toBe('1.0')
    await c.end()
    await srv!.stop()
    await start()
    expect(await value(client(), 'SELECT big_size()')).toBe(PAYLOAD)
    expect(await value(client(), 'SELECT tiny_version()')).toBe('1.0')
    const kept = await client().query(
      'SELECT count(*)::int AS n, sum(id)::int AS s FROM kept WHERE h = md5(id::text)',
    )
    expect(kept.rows[0]).toEqual({ n: 5000, s: 12_502_500 })
    const manifest = await client().query('SELECT name, version FROM pyglite.manifest ORDER BY name')
    expect(manifest.rows).toEqual([
      { name: 'bigpkg', version: '1.0' },
      { name: 'tinypkg', version: '1.0' },
    ])
  })
})
