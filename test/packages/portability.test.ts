// The environment goes where the data goes: `pyglite backup`/`restore` carry it (and the restored one
// still installs), a pg_dump of a database restored into another pyglite reinstalls it with one command
// (CALL pyglite.sync(), from the dumped pyglite.manifest), requirements_txt() is what PostgreSQL's pip
// needs. Also the flags: --python-system-site-packages off hides the system's packages, --python-venv
// uses an existing environment and refuses one of another Python version.
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pg18Bin, startReference } from '../helpers/reference.js'
import { ROOT, startServer, type TestServer } from '../helpers/server.js'
import { connect, failure, value } from '../plpython/util.js'
import { buildWheel, pipEnv, serverEnv } from './build.js'

let dir: string
let wheelhouse: string
let env: Record<string, string>
let args: string[]
let srv: TestServer
const servers: TestServer[] = []

async function start(extra: { dataDir?: string; args?: string[] } = {}): Promise<TestServer> {
  const s = await startServer({
    ...(extra.dataDir ? { dataDir: extra.dataDir } : {}),
    args: [...args, ...(extra.args ?? [])],
    env,
  })
  servers.push(s)
  return s
}

/** psql -c on a server: unaligned rows. */
const psql = (url: string, sql: string) =>
  execFileSync('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], {
    encoding: 'utf8',
  }).trim()
const pyglite = (...a: string[]) =>
  spawnSync(process.execPath, [path.join(ROOT, 'bin/pyglite.js'), ...a], { encoding: 'utf8' })

const HELLO = `CREATE FUNCTION hello(n text) RETURNS text LANGUAGE plpython3u AS $$
import otherpkg, tinypkg
return otherpkg.hello(n) + ' ' + tinypkg.VERSION
$$`

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-packages-move-'))
  wheelhouse = path.join(dir, 'wheelhouse')
  fs.mkdirSync(wheelhouse)
  buildWheel(wheelhouse, 'tinypkg', '1.0')
  buildWheel(wheelhouse, 'otherpkg', '0.5', { extra: 'def hello(n):\n    return "hello " + n\n' })
  fs.mkdirSync(path.join(dir, 'home'))
  env = serverEnv(path.join(dir, 'home'))
  args = ['--python-find-links', wheelhouse, '--python-no-index']
  srv = await start()
  psql(srv.url(), `CALL pyglite.install('tinypkg==1.0', 'otherpkg')`)
  psql(srv.url(), HELLO)
}, 180_000)
afterAll(async () => {
  for (const s of servers) await s.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

describe('moving the environment', () => {
  it('pyglite backup of the running server and restore elsewhere keep it, and it still installs', async () => {
    const backup = path.join(dir, 'backup')
    const b = pyglite('backup', backup, '--data-dir', srv.dataDir)
    expect(b.status, b.stderr).toBe(0)
    const target = path.join(dir, 'restored')
    const r = pyglite('restore', backup, '--data-dir', target)
    expect(r.status, r.stderr).toBe(0)
    // backups copy files, not the interpreter's symlinks: the server remakes them at start
    expect(fs.existsSync(path.join(target, 'python-env', 'bin', 'python'))).toBe(false)
    const restored = await start({ dataDir: target })
    expect(psql(restored.url(), `SELECT hello('backup')`)).toBe('hello backup 1.0')
    expect(fs.existsSync(path.join(target, 'python-env', 'bin', 'python'))).toBe(true)
    psql(restored.url(), `CALL pyglite.uninstall('otherpkg')`)
    expect(psql(restored.url(), 'SELECT name FROM pyglite.manifest ORDER BY name')).toBe('tinypkg')
    expect(psql(srv.url(), 'SELECT name FROM pyglite.manifest ORDER BY name')).toBe('otherpkg\ntinypkg')
  }, 240_000)

  it('pg_dump into another pyglite: CALL pyglite.sync() reinstalls the manifest; requirements_txt() for pip', async () => {
    const pg18 = pg18Bin()
    const dump = execFileSync(path.join(pg18, 'pg_dump'), ['-d', srv.url()], { encoding: 'utf8' })
    expect(dump).toContain('CREATE TABLE pyglite.manifest')
    const other = await start()
    const restore = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', other.url()], {
      input: dump,
      encoding: 'utf8',
    })
    expect(restore.status, restore.stderr).toBe(0)
    expect(
      psql(other.url(), 'SELECT name || ' + "' '" + ' || version FROM pyglite.manifest ORDER BY name'),
    ).toBe('otherpkg 0.5\ntinypkg 1.0')
    const c = await connect(other)
    try {
      const e = await failure(c, `SELECT hello('dump')`)
      expect(e.message).toMatch(/^ModuleNotFoundError: No module named '(otherpkg|tinypkg)'$/)
      await c.query('CALL pyglite.sync()')
      expect(c.notices.map((n) => n.message)).toContain(
        'pip: Successfully installed otherpkg-0.5 tinypkg-1.0',
      )
      expect(await value(c, `SELECT hello('dump')`)).toBe('hello dump 1.0')
      expect(await value(c, 'SELECT pyglite.requirements_txt()')).toBe('otherpkg==0.5\ntinypkg==1.0\n')
      const m = await c.query('SELECT name, requested, requirement FROM pyglite.manifest ORDER BY name')
      expect(m.rows).toEqual([
        { name: 'otherpkg', requested: true, requirement: 'otherpkg' },
        { name: 'tinypkg', requested: true, requirement: 'tinypkg==1.0' },
      ])
    } finally {
      await c.end()
    }
    // requirements_txt() is what pip installs from, elsewhere: a fresh venv gets the same versions
    const reqs = path.join(dir, 'requirements.txt')
    fs.writeFileSync(reqs, psql(srv.url(), 'SELECT pyglite.requirements_txt()'))
    const venv = path.join(dir, 'elsewhere')
    execFileSync('/usr/bin/python3', ['-m', 'venv', '--without-pip', venv])
    execFileSync(
      '/usr/bin/python3',
      [
        '-m',
        'pip',
        '--python',
        path.join(venv, 'bin', 'python'),
        'install',
        '-q',
        '--no-index',
        '--find-links',
        wheelhouse,
        '-r',
        reqs,
      ],
      { env: pipEnv() },
    )
    expect(
      execFileSync(
        path.join(venv, 'bin', 'python'),
        ['-c', 'import otherpkg, tinypkg; print(otherpkg.hello("pg"), tinypkg.VERSION)'],
        {
          encoding: 'utf8',
        },
      ).trim(),
    ).toBe('hello pg 1.0')
  }, 240_000)
})

describe('moving to PostgreSQL', () => {
  it('the dump restores into PostgreSQL 15 + plpython3u: requirements_txt() is there, the procedures explain', async () => {
    const ref = await startReference()
    try {
      const pg18 = pg18Bin()
      // PostgreSQL 15 does not know transaction_timeout (17+): the one line it refuses (docs/hostile.md)
      const dump = execFileSync(path.join(pg18, 'pg_dump'), ['-d', srv.url()], { encoding: 'utf8' }).replace(
        /^SET transaction_timeout = 0;\n/m,
        '',
      )
      psql(ref.url, 'CREATE DATABASE from_pyglite')
      const url = ref.url.replace(/\/postgres$/, '/from_pyglite')
      const r = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url], {
        input: dump,
        encoding: 'utf8',
      })
      expect(r.status, r.stderr).toBe(0)
      expect(psql(url, 'SELECT pyglite.requirements_txt()')).toBe('otherpkg==0.5\ntinypkg==1.0')
      // the view lists what PostgreSQL's Python has (here: Debian's), from the same plpython3u code
      expect(Number(psql(url, 'SELECT count(*) FROM pyglite.packages'))).toBeGreaterThan(0)
      const call = spawnSync(
        'psql',
        ['-X', '-At', '-v', 'VERBOSITY=verbose', '-d', url, '-c', `CALL pyglite.install('tinypkg')`],
        {
          encoding: 'utf8',
        },
      )
      expect(call.stderr).toContain(
        'ERROR:  0A000: pyglite.install runs only as a query of its own with literal arguments, outside a transaction block, on a pyglite server',
      )
      expect(call.stderr).toContain('HINT:  Send e.g. CALL pyglite.install')
    } finally {
      ref.stop()
    }
  }, 240_000)
})

describe('flags', () => {
  it("--python-system-site-packages: on (default) shows the system Python's packages, off hides them", async () => {
    // what the embedded Python sees of the system's site directories (site.getsitepackages(): Debian's
    // /usr/local/lib/python3.11/dist-packages, /usr/lib/python3/dist-packages, /usr/lib/python3.11/dist-packages)
    const probe = `CREATE FUNCTION system_view() RETURNS text LANGUAGE plpython3u AS $$
import importlib.util, json, os, site, sys
dirs = site.getsitepackages()
under = lambda p: any(str(p or '').startswith(d + os.sep) for d in dirs)
mods = sorted(n for n, m in list(sys.modules.items())
              if under(getattr(m, '__file__', None)) or any(under(p) for p in (getattr(m, '__path__', None) or [])))
spec = lambda n: getattr(importlib.util.find_spec(n), 'origin', None)
env = sys.modules['pyglite_host'].environment['site']
return json.dumps({'dirs': dirs, 'path': sys.path[sys.path.index(env):], 'modules': mods,
                   'numpy': spec('numpy'), 'psycopg2': spec('psycopg2'),
                   'hooks': [f.__module__ for f in sys.meta_path]})
$$`
    const view = (s: TestServer) => JSON.parse(psql(s.url(), 'SELECT system_view()'))
    psql(srv.url(), probe)
    const on = view(srv)
    expect(on.dirs).toEqual([
      '/usr/local/lib/python3.11/dist-packages',
      '/usr/lib/python3/dist-packages',
      '/usr/lib/python3.11/dist-packages',
    ])
    // the environment's site-packages first, then every system directory, in site.py's order
    expect(on.path).toEqual([
      path.join(srv.dataDir, 'python-env', 'lib', 'python3.11', 'site-packages'),
      ...on.dirs,
    ])
    expect(on.numpy).toBe('/usr/lib/python3/dist-packages/numpy/__init__.py') // Debian's python3-numpy
    expect(on.psycopg2).toBe('/usr/lib/python3/dist-packages/psycopg2/__init__.py')
    const off = await start({ args: ['--python-system-site-packages', 'off'] })
    psql(off.url(), probe)
    // nothing of them: not on sys.path, no module their .pth files imported at start-up (Debian's
    // _distutils_hack and its import hook, matplotlib's mpl_toolkits namespace), nothing importable
    const hidden = view(off)
    expect(hidden).toEqual({
      dirs: on.dirs,
      path: [path.join(off.dataDir, 'python-env', 'lib', 'python3.11', 'site-packages')],
      modules: [],
      numpy: null,
      psycopg2: null,
      hooks: ['_frozen_importlib', '_frozen_importlib', '_frozen_importlib_external'],
    })
    psql(off.url(), `CALL pyglite.install('tinypkg==1.0')`)
    expect(fs.readFileSync(path.join(off.dataDir, 'python-env', 'pyvenv.cfg'), 'utf8')).toContain(
      'include-system-site-packages = false',
    )
    expect(
      psql(off.url(), 'DO LANGUAGE plpython3u $$ import tinypkg; assert tinypkg.VERSION == "1.0" $$'),
    ).toBe('DO')
  }, 240_000)

  it('--python-venv uses an existing environment; one of another Python version is refused at start', async () => {
    const ext = path.join(dir, 'ext-venv')
    execFileSync('/usr/bin/python3', ['-m', 'venv', ext])
    execFileSync(
      path.join(ext, 'bin', 'python'),
      ['-m', 'pip', 'install', '-q', '--no-index', '--find-links', wheelhouse, 'tinypkg==1.0'],
      {
        env: pipEnv(),
      },
    )
    const s = await start({ args: ['--python-venv', ext] })
    psql(
      s.url(),
      `CREATE FUNCTION tiny_file() RETURNS text LANGUAGE plpython3u AS $$ import tinypkg; return tinypkg.__file__ $$`,
    )
    expect(psql(s.url(), 'SELECT tiny_file()')).toBe(
      path.join(ext, 'lib', 'python3.11', 'site-packages', 'tinypkg', '__init__.py'),
    )
    psql(s.url(), `CALL pyglite.install('otherpkg')`)
    expect(
      fs.existsSync(path.join(ext, 'lib', 'python3.11', 'site-packages', 'otherpkg', '__init__.py')),
    ).toBe(true)
    expect(fs.existsSync(path.join(s.dataDir, 'python-env'))).toBe(false)

    // another Python: a real one if this machine has one, else an interpreter that reports another version
    const other = path.join(dir, 'other-venv')
    const real = ['/root/.pyenv/versions', '/opt/python']
      .filter((d) => fs.existsSync(d))
      .flatMap((d) => fs.readdirSync(d).map((v) => path.join(d, v, 'bin', 'python3')))
      .find((p) => fs.existsSync(p) && !/\/3\.11[./]/.test(p))
    if (real) execFileSync(real, ['-m', 'venv', '--without-pip', other])
    else {
      fs.mkdirSync(path.join(other, 'bin'), { recursive: true })
      fs.writeFileSync(path.join(other, 'pyvenv.cfg'), 'home = /usr/bin\nversion = 3.9.2\n')
      fs.writeFileSync(
        path.join(other, 'bin', 'python'),
        '#!/bin/sh\necho 3.9.2\necho /nowhere/site-packages\n',
        { mode: 0o755 },
      )
    }
    const otherVersion = execFileSync(
      path.join(other, 'bin', 'python'),
      ['-c', "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
      { encoding: 'utf8' },
    ).trim()
    const refused = await start({ args: ['--python-venv', other] }).catch((e: Error) => e.message)
    expect(refused).toContain(
      `pyglite: could not start: --python-venv: "${other}" has Python ${otherVersion}, but pyglite embeds Python 3.11.2\n`,
    )
    const none = await start({ args: ['--python-venv', path.join(dir, 'nothing')] }).catch(
      (e: Error) => e.message,
    )
    expect(none).toContain(
      `pyglite: could not start: --python-venv: "${path.join(dir, 'nothing')}" is not a virtual environment (no pyvenv.cfg)\n`,
    )
  }, 240_000)
})
