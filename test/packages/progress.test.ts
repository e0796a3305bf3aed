// A long install does not hold the server: its progress shows in pyglite.installs on a second connection
// while that connection's queries (SQL and Python) keep running, a second operation meanwhile is refused
// (55006), and a CancelRequest ends the pip run (57014) with the environment left as it was. The sdists
// built here block in their build backend until the test creates a flag file: no timing guesses.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cancelClient } from '../helpers/clients.js'
import { ROOT, startServer, type TestServer } from '../helpers/server.js'
import { type Client, connect, failure, fn, value } from '../plpython/util.js'
import { buildSlowSdist, buildWheel, serverEnv } from './build.js'

let dir: string
let srv: TestServer
let a: Client
let b: Client
let srvArgs: string[]
const flag = () => path.join(dir, 'go')

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-packages-progress-'))
  const wheelhouse = path.join(dir, 'wheelhouse')
  fs.mkdirSync(wheelhouse)
  buildWheel(wheelhouse, 'tinypkg', '1.0')
  buildSlowSdist(wheelhouse, 'slowpkg', '1.0', flag())
  buildSlowSdist(wheelhouse, 'hangpkg', '1.0', path.join(dir, 'never'))
  fs.mkdirSync(path.join(dir, 'home'))
  srvArgs = ['--python-find-links', wheelhouse, '--python-no-index']
  srv = await startServer({ args: srvArgs, env: serverEnv(path.join(dir, 'home')) })
  a = await connect(srv)
  b = await connect(srv)
  await a.query(`CALL pyglite.install('tinypkg==1.0')`) // the environment exists from here on
  await fn(b, 'py_twice(i int) RETURNS int', 'return i * 2')
}, 180_000)
/** Start the server again on its data directory, with both connections. */
async function restart(): Promise<void> {
  await a.end().catch(() => {})
  srv = await startServer({ dataDir: srv.dataDir, args: srvArgs, env: serverEnv(path.join(dir, 'home')) })
  a = await connect(srv)
  b = await connect(srv)
}

afterAll(async () => {
  // a failed test must not leave a build waiting for its flag behind
  for (const p of srv ? builders('hangpkg') : []) process.kill(Number(p), 'SIGKILL')
  await a?.end()
  await b?.end()
  await srv?.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

/** The newest operation as the second connection sees it. */
const latest = async () =>
  (
    await b.query(
      'SELECT id, action, arguments, state, progress, error FROM pyglite.installs ORDER BY id DESC LIMIT 1',
    )
  ).rows[0] as {
    id: number
    action: string
    arguments: string[]
    state: string
    progress: string | null
    error: string | null
  }

/** Poll (from the second connection, running queries each time) until the newest operation is building. */
async function untilBuilding(name: string): Promise<number> {
  let queries = 0
  for (;;) {
    const l = await latest()
    // the second connection's own work goes on meanwhile: plain SQL and a Python function
    expect(await value(b, 'SELECT count(*)::int FROM generate_series(1, 1000)')).toBe(1000)
    expect(await value(b, 'SELECT py_twice(21)')).toBe(42)
    queries++
    if (
      l.state === 'running' &&
      l.arguments.includes(`${name}==1.0`) &&
      /metadata|wheel/i.test(l.progress ?? '')
    )
      return queries
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Processes working in a directory of `name`'s build (pip unpacks an sdist into a pip-install directory named after it). */
const builders = (name: string) =>
  fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        // this server's (its environment's python runs the build), not another run's
        const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8')
        return fs.readlinkSync(`/proc/${p}/cwd`).includes(name) && cmd.includes(srv.dataDir)
      } catch {
        return false
      }
    })

/** Processes whose command line passes `test` (NUL-separated arguments). */
const processes = (test: (cmd: string) => boolean) =>
  fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return test(fs.readFileSync(`/proc/${p}/cmdline`, 'utf8'))
      } catch {
        return false
      }
    })

/** The build processes once they run (pip prints its 'Preparing metadata' line before it starts them). */
async function runningBuilders(name: string): Promise<string[]> {
  for (let i = 0; i < 600; i++) {
    const found = builders(name)
    if (found.length > 0) return found
    await new Promise((r) => setTimeout(r, 50))
  }
  return []
}

const packages = async () =>
  (await b.query('SELECT name, version FROM pyglite.packages ORDER BY name')).rows.map(
    (r) => `${r.name} ${r.version}`,
  )

describe('a long install', () => {
  it('shows its progress to another connection, whose queries keep running, and refuses a second one', async () => {
    a.notices = []
    let settled = false
    const install = a.query(`CALL pyglite.install('slowpkg==1.0')`).finally(() => {
      settled = true
    })
    const queries = await untilBuilding('slowpkg')
    expect(queries).toBeGreaterThan(0)
    expect(settled).toBe(false)
    const busy = await failure(b, `CALL pyglite.install('tinypkg==1.0')`)
    expect([busy.code, busy.message]).toEqual(['55006', 'another package operation is running'])
    expect(busy.detail).toMatch(
      /^install slowpkg==1\.0 started at .* by "postgres" in database "postgres"\.$/,
    )
    expect(settled).toBe(false)
    fs.writeFileSync(flag(), '')
    await install
    expect(a.notices.map((n) => n.message)).toContain('pip: Successfully installed slowpkg-1.0')
    expect(await latest()).toMatchObject({ action: 'install', state: 'succeeded', error: null })
    await fn(b, 'slow_version() RETURNS text', 'import slowpkg\nreturn slowpkg.VERSION')
    expect(await value(b, 'SELECT slow_version()')).toBe('1.0')
  })

  it('runs from a second connection while the first sits inside an open transaction', async () => {
    await a.query('BEGIN')
    await a.query('CREATE TEMP TABLE held (i int)')
    b.notices = []
    await b.query(`CALL pyglite.uninstall('tinypkg')`)
    await b.query(`CALL pyglite.install('tinypkg==1.0')`)
    expect(b.notices.map((n) => n.message)).toContain('pip: Successfully installed tinypkg-1.0')
    await a.query('INSERT INTO held VALUES (1)')
    await a.query('COMMIT')
    expect(await value(b, `SELECT version FROM pyglite.packages WHERE name = 'tinypkg'`)).toBe('1.0')
  })

  it('is cancelled by a CancelRequest, leaving the environment as it was', async () => {
    const before = await packages()
    const install = failure(a, `CALL pyglite.install('hangpkg==1.0')`)
    await untilBuilding('hangpkg')
    expect((await runningBuilders('hangpkg')).length).toBeGreaterThan(0)
    await cancelClient(srv, a)
    const e = await install
    expect([e.code, e.message, e.detail]).toEqual([
      '57014',
      'canceling statement due to user request',
      'The Python environment was left as it was before the command.',
    ])
    expect(await latest()).toMatchObject({ action: 'install', state: 'canceled' })
    expect(builders('hangpkg')).toEqual([]) // pip and the build it started are gone
    expect(await packages()).toEqual(before)
    expect(fs.existsSync(path.join(srv.dataDir, 'python-env.previous'))).toBe(false)
    // the connection goes on, and so do installs
    expect(await value(a, 'SELECT 1')).toBe(1)
    await a.query(`CALL pyglite.uninstall('slowpkg')`)
    expect(await packages()).toEqual(before.filter((p) => !p.startsWith('slowpkg')))
  })

  it('a backup taken during an install restores to the environment as it was before it', async () => {
    const before = await packages()
    const install = failure(a, `CALL pyglite.install('hangpkg==1.0')`)
    await untilBuilding('hangpkg')
    const backup = path.join(dir, 'backup-during-install')
    const bin = path.join(ROOT, 'bin/pyglite.js')
    const taken = spawnSync(process.execPath, [bin, 'backup', backup, '--data-dir', srv.dataDir], {
      encoding: 'utf8',
    })
    expect(taken.status, taken.stderr).toBe(0)
    await cancelClient(srv, a)
    expect((await install).code).toBe('57014')
    expect(fs.existsSync(path.join(backup, 'python-env.changing'))).toBe(true)
    const target = path.join(dir, 'restored-during-install')
    const restored = spawnSync(process.execPath, [bin, 'restore', backup, '--data-dir', target], {
      encoding: 'utf8',
    })
    expect(restored.status, restored.stderr).toBe(0)
    const other = await startServer({
      dataDir: target,
      args: srvArgs,
      env: serverEnv(path.join(dir, 'home')),
    })
    try {
      expect(other.output()).toContain(
        'a package operation was interrupted by a stop: the environment was put back',
      )
      const c = await connect(other)
      const list = (await c.query('SELECT name, version FROM pyglite.packages ORDER BY name')).rows
      await c.end()
      expect(list.map((r) => `${r.name} ${r.version}`)).toEqual(before)
      expect(fs.existsSync(path.join(target, 'python-env.previous'))).toBe(false)
    } finally {
      await other.stop()
    }
  }, 240_000)

  it('a server stopped during an install cancels it and undoes it; after kill -9 the next start undoes it', async () => {
    const before = await packages()
    // SIGTERM: the shutdown ends pip and puts the environment back before the server exits
    const install = failure(a, `CALL pyglite.install('hangpkg==1.0')`)
    await untilBuilding('hangpkg')
    await b.end()
    a.on('error', () => {}) // the server goes away under it: its pending query gets the error
    expect(await srv.stop()).toBe(0)
    expect((await install).message).toMatch(/terminating connection|Connection terminated/)
    expect(builders('hangpkg')).toEqual([])
    expect(fs.existsSync(path.join(srv.dataDir, 'python-env.previous'))).toBe(false)
    expect(fs.existsSync(path.join(srv.dataDir, 'python-env.changing'))).toBe(false)
    await restart()
    expect(await packages()).toEqual(before)
    expect(await latest()).toMatchObject({
      action: 'install',
      arguments: ['hangpkg==1.0'],
      state: 'canceled',
    })

    // kill -9: pip dies with the server (PR_SET_PDEATHSIG), the next start puts the snapshot back
    const again = failure(a, `CALL pyglite.install('hangpkg==1.0')`)
    await untilBuilding('hangpkg')
    const orphans = await runningBuilders('hangpkg')
    expect(orphans.length).toBeGreaterThan(0)
    // pip's process group (pip leads it; its build runs in it)
    const group = Number(fs.readFileSync(`/proc/${orphans[0]}/stat`, 'utf8').split(') ')[1]!.split(' ')[2])
    await b.end()
    a.on('error', () => {})
    const pip = processes((cmd) => cmd.includes(srv.dataDir) && cmd.includes('run_module'))
    expect(pip.length).toBe(1)
    await srv.stop('SIGKILL')
    await again
    for (let i = 0; i < 200 && fs.existsSync(`/proc/${pip[0]}/cmdline`); i++)
      await new Promise((r) => setTimeout(r, 25))
    expect(fs.existsSync(`/proc/${pip[0]}/cmdline`)).toBe(false)
    expect(fs.existsSync(path.join(srv.dataDir, 'python-env.changing'))).toBe(true)
    // the build pip had started may still wait for its flag: it cannot touch the environment, end it
    try {
      process.kill(-group, 'SIGKILL')
    } catch {
      // already gone (pip may die of the closed pipes first)
    }
    await restart()
    expect(srv.output()).toContain(
      'a package operation was interrupted by a stop: the environment was put back',
    )
    expect(fs.existsSync(path.join(srv.dataDir, 'python-env.previous'))).toBe(false)
    expect(await packages()).toEqual(before)
    expect(await latest()).toMatchObject({
      action: 'install',
      state: 'failed',
      error: 'the server stopped during the operation; the environment was put back as it was before',
    })
    await a.query(`CALL pyglite.install('tinypkg==1.0')`) // and it installs again
  }, 240_000)
})
