// Python packages from SQL on the real server (src/packages, docs/packages.md): packages built here with
// `pip wheel` are installed offline from a local wheelhouse, imported by functions without a restart,
// upgraded, listed, recorded in the manifest, uninstalled; bad requests fail with their SQLSTATE and leave
// the environment as it was; a conflicting version planted in ~/.local is never seen; a restart keeps it.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'
import { type Client, connect, failure, fn, value } from '../plpython/util.js'
import { buildWheel, plantUserSite, serverEnv } from './build.js'

let dir: string
let wheelhouse: string
let home: string
let srv: TestServer
let c: Client
let args: string[]

const start = async (dataDir?: string) =>
  startServer({ ...(dataDir ? { dataDir } : {}), args, env: serverEnv(home) })

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-packages-'))
  wheelhouse = path.join(dir, 'wheelhouse')
  home = path.join(dir, 'home')
  fs.mkdirSync(wheelhouse)
  buildWheel(wheelhouse, 'tinypkg', '1.0')
  buildWheel(wheelhouse, 'tinypkg', '2.0')
  buildWheel(wheelhouse, 'otherpkg', '0.5', { extra: 'def hello(n):\n    return "hello " + n\n' })
  buildWheel(wheelhouse, 'needsold', '1.0', { requires: ['tinypkg<2'] })
  // a wheel for another Python and platform (pip refuses it by its file name's tags)
  const foreign = path.join(dir, 'foreign')
  fs.mkdirSync(foreign)
  fs.copyFileSync(
    path.join(wheelhouse, 'tinypkg-2.0-py3-none-any.whl'),
    path.join(foreign, 'tinypkg-3.0-cp27-cp27m-win32.whl'),
  )
  plantUserSite(home, 'tinypkg', '9.9-user')
  args = ['--python-find-links', wheelhouse, '--python-no-index']
  srv = await start()
  c = await connect(srv)
  await fn(c, 'tiny_version() RETURNS text', 'import tinypkg\nreturn tinypkg.VERSION')
  await fn(c, 'tiny_file() RETURNS text', 'import tinypkg\nreturn tinypkg.__file__')
}, 180_000)
afterAll(async () => {
  await c?.end()
  await srv?.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

const packages = async () =>
  (await c.query('SELECT name, version FROM pyglite.packages ORDER BY name')).rows.map(
    (r) => `${r.name} ${r.version}`,
  )
const lastLog = async () =>
  (await c.query('SELECT action, arguments, state, error FROM pyglite.installs ORDER BY id DESC LIMIT 1'))
    .rows[0]
const messages = () => c.notices.map((n) => n.message)
const venv = () => path.join(srv.dataDir, 'python-env')

describe('packages from SQL', () => {
  it('hides ~/.local: a package planted there is not importable, and its directory is not on sys.path', async () => {
    const e = await failure(c, 'SELECT tiny_version()')
    expect(e.code).toBe('38000')
    expect(e.message).toBe(`ModuleNotFoundError: No module named 'tinypkg'`)
    await fn(c, 'py_path() RETURNS text[]', 'import sys\nreturn sys.path')
    const p = (await value(c, 'SELECT py_path()')) as string[]
    expect(p.filter((x) => x.includes('.local'))).toEqual([])
    expect(p).toContain(path.join(venv(), 'lib', 'python3.11', 'site-packages'))
    expect(fs.existsSync(venv())).toBe(false) // made on first need
  })

  it('installs a wheel offline, and a function imports it at once', async () => {
    c.notices = []
    await c.query(`CALL pyglite.install('tinypkg==1.0')`)
    expect(messages()).toContain(`creating the Python environment in ${venv()}`)
    expect(messages()).toContain('pip: Successfully installed tinypkg-1.0')
    expect(await value(c, 'SELECT tiny_version()')).toBe('1.0')
    expect(await value(c, 'SELECT tiny_file()')).toBe(
      path.join(venv(), 'lib', 'python3.11', 'site-packages', 'tinypkg', '__init__.py'),
    )
    expect(await packages()).toEqual(['pip 23.0.1', 'setuptools 66.1.1', 'tinypkg 1.0'])
    const m = await c.query('SELECT name, version, requested, requirement FROM pyglite.manifest')
    expect(m.rows).toEqual([
      { name: 'tinypkg', version: '1.0', requested: true, requirement: 'tinypkg==1.0' },
    ])
    expect(await lastLog()).toEqual({
      action: 'install',
      arguments: ['tinypkg==1.0'],
      state: 'succeeded',
      error: null,
    })
  })

  it('installs through the extended protocol (a named statement), and a dependency with its package', async () => {
    await c.query({ name: 'inst', text: `CALL pyglite.install('needsold==1.0', 'otherpkg')` })
    await fn(c, 'hello(n text) RETURNS text', 'import otherpkg\nreturn otherpkg.hello(n)')
    expect(await value(c, `SELECT hello('you')`)).toBe('hello you')
    const m = await c.query(
      'SELECT name, version, requested, requirement FROM pyglite.manifest ORDER BY name',
    )
    expect(m.rows).toEqual([
      { name: 'needsold', version: '1.0', requested: true, requirement: 'needsold==1.0' },
      { name: 'otherpkg', version: '0.5', requested: true, requirement: 'otherpkg' },
      { name: 'tinypkg', version: '1.0', requested: true, requirement: 'tinypkg==1.0' },
    ])
    expect(await value(c, 'SELECT pyglite.requirements_txt()')).toBe(
      'needsold==1.0\notherpkg==0.5\ntinypkg==1.0\n',
    )
  })

  it('refuses bad requests with their SQLSTATE and leaves the environment as it was', async () => {
    const before = await packages()
    const cases: Array<[string, string, RegExp]> = [
      [
        `CALL pyglite.install('tinypkg=>1')`,
        '22P02',
        /^could not install "tinypkg=>1": Invalid requirement: 'tinypkg=>1'$/,
      ],
      [`CALL pyglite.install('-r /etc/passwd')`, '22P02', /^invalid requirement: "-r \/etc\/passwd"$/],
      [
        `CALL pyglite.install('nosuchpkg')`,
        '42704',
        /^could not install "nosuchpkg": Could not find a version that satisfies the requirement nosuchpkg \(from versions: none\)$/,
      ],
      [
        `CALL pyglite.install('tinypkg==7.0')`,
        '42704',
        /: Could not find a version that satisfies the requirement tinypkg==7.0 \(from versions: 1.0, 2.0\)$/,
      ],
      [
        `CALL pyglite.install('${path.join(dir, 'foreign', 'tinypkg-3.0-cp27-cp27m-win32.whl')}')`,
        '22023',
        /tinypkg-3.0-cp27-cp27m-win32.whl is not a supported wheel on this platform\.$/,
      ],
      [
        `CALL pyglite.install('tinypkg==1.0', 'tinypkg==2.0')`,
        '22023',
        /^could not install "tinypkg==1.0", "tinypkg==2.0": /,
      ],
      // needsold requires tinypkg<2: pip would install 2.0 and only warn; pyglite undoes it
      [
        `CALL pyglite.install('tinypkg==2.0')`,
        '22023',
        /^the requested versions conflict with installed packages$/,
      ],
      [`CALL pyglite.uninstall('nosuchpkg')`, '42704', /^Python package "nosuchpkg" is not installed$/],
      [`CALL pyglite.uninstall('bad name')`, '22023', /^invalid package name: "bad name"$/],
      [`CALL pyglite.uninstall('pip')`, '0A000', /^pip cannot be uninstalled/],
    ]
    for (const [sql, code, msg] of cases) {
      const e = await failure(c, sql)
      expect([sql, e.code], e.message).toEqual([sql, code])
      expect(e.message).toMatch(msg)
      expect(await packages()).toEqual(before)
      expect(fs.existsSync(`${venv()}.previous`)).toBe(false)
    }
    const conflict = await failure(c, `CALL pyglite.install('tinypkg==2.0')`)
    expect(conflict.detail).toContain(
      'needsold 1.0 requires tinypkg<2, but you have tinypkg 2.0 which is incompatible.',
    )
    expect(await value(c, 'SELECT tiny_version()')).toBe('1.0')
    expect(await lastLog()).toMatchObject({ action: 'install', state: 'failed' })
    // inside a transaction block, or with parameters, the statement reaches PostgreSQL's procedure
    await c.query('BEGIN')
    const inTx = await failure(c, `CALL pyglite.install('otherpkg')`)
    await c.query('ROLLBACK')
    expect([inTx.code, inTx.message]).toEqual([
      '0A000',
      'pyglite.install runs only as a query of its own with literal arguments, outside a transaction block, on a pyglite server',
    ])
    const withParam = await failure(c, 'CALL pyglite.uninstall($1)', ['otherpkg'])
    expect([withParam.code, withParam.message]).toEqual([
      '0A000',
      'pyglite.uninstall runs only as a query of its own with literal arguments, outside a transaction block, on a pyglite server',
    ])
    expect(await packages()).toEqual(before)
  })

  it('is for superusers only (42501)', async () => {
    await c.query('CREATE ROLE pkg_user LOGIN')
    const u = new pg.Client({ connectionString: srv.url().replace('postgres@', 'pkg_user@') })
    await u.connect()
    try {
      for (const sql of [
        `CALL pyglite.install('otherpkg')`,
        `CALL pyglite.uninstall('tinypkg')`,
        'CALL pyglite.sync()',
      ]) {
        const e = await failure(u, sql)
        expect([e.code, e.message]).toEqual([
          '42501',
          `permission denied for procedure ${sql.slice(5, sql.indexOf('('))}`,
        ])
      }
      // listing is not privileged
      expect((await u.query('SELECT name FROM pyglite.packages WHERE name = $1', ['tinypkg'])).rowCount).toBe(
        1,
      )
    } finally {
      await u.end()
    }
  })

  it('upgrades: modules already imported keep their code until a restart, which brings the new version', async () => {
    await c.query(`CALL pyglite.uninstall('needsold')`)
    c.notices = []
    await c.query(`CALL pyglite.install('tinypkg==2.0')`)
    expect(messages()).toContain('pip: Successfully installed tinypkg-2.0')
    expect(messages()).toContain(
      'already imported modules keep their previous code until the server restarts: tinypkg',
    )
    expect(await packages()).toContain('tinypkg 2.0')
    expect(await value(c, 'SELECT tiny_version()')).toBe('1.0')
    expect(await value(c, `SELECT version FROM pyglite.manifest WHERE name = 'tinypkg'`)).toBe('2.0')
    await c.end()
    await srv.stop()
    srv = await start(srv.dataDir)
    c = await connect(srv)
    expect(await value(c, 'SELECT tiny_version()')).toBe('2.0')
  })

  it('uninstalls; after a restart the module is gone, and ~/.local still does not show through', async () => {
    c.notices = []
    await c.query(`CALL pyglite.uninstall('tinypkg')`)
    expect(messages()).toContain('pip: Successfully uninstalled tinypkg-2.0')
    expect(await packages()).toEqual(['otherpkg 0.5', 'pip 23.0.1', 'setuptools 66.1.1'])
    expect((await c.query('SELECT name FROM pyglite.manifest')).rows).toEqual([{ name: 'otherpkg' }])
    await c.end()
    await srv.stop()
    srv = await start(srv.dataDir)
    c = await connect(srv)
    const e = await failure(c, 'SELECT tiny_version()')
    expect(e.message).toBe(`ModuleNotFoundError: No module named 'tinypkg'`)
    expect(await value(c, `SELECT hello('again')`)).toBe('hello again')
  })

  it('serves every database: each gets its own pyglite schema and manifest of the one shared environment', async () => {
    await c.query('CREATE DATABASE pk2')
    const d = new pg.Client({ connectionString: srv.url('pk2') })
    await d.connect()
    try {
      expect((await failure(d, 'SELECT name FROM pyglite.packages')).code).toBe('42P01')
      await d.query(`CALL pyglite.install('otherpkg')`) // already there: pip has nothing to do
      const m = await d.query('SELECT name, version, requested, requirement FROM pyglite.manifest')
      expect(m.rows).toEqual([{ name: 'otherpkg', version: '0.5', requested: true, requirement: 'otherpkg' }])
      await fn(d, 'hello2(n text) RETURNS text', 'import otherpkg\nreturn otherpkg.hello(n)')
      expect((await d.query(`SELECT hello2('pk2') AS v`)).rows[0].v).toBe('hello pk2')
    } finally {
      await d.end()
    }
  })

  it('installs a wheel given by its path, recorded in the manifest by name and version', async () => {
    const elsewhere = path.join(dir, 'elsewhere')
    fs.mkdirSync(elsewhere)
    const whl = buildWheel(elsewhere, 'pathpkg', '1.5')
    await c.query(`CALL pyglite.install('${whl}')`)
    expect(await value(c, `SELECT requirement FROM pyglite.manifest WHERE name = 'pathpkg'`)).toBe(
      'pathpkg==1.5',
    )
    expect(await value(c, 'SELECT pyglite.requirements_txt()')).toBe('otherpkg==0.5\npathpkg==1.5\n')
    await fn(c, 'path_version() RETURNS text', 'import pathpkg\nreturn pathpkg.VERSION')
    expect(await value(c, 'SELECT path_version()')).toBe('1.5')
  })
})
