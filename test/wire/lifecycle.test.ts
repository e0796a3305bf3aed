// The server's life: first start (initialises the data directory) and later starts (reopen), data kept
// across a restart, pg_dump and restore, clean shutdown on SIGTERM/SIGINT (a running statement finishes,
// clients get FATAL 57P01), a second signal forcing the exit, and the command line.
import { execFile, execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { fields, query, RawClient, rows } from '../helpers/raw.js'
import { pg18Bin } from '../helpers/reference.js'
import { ROOT, startServer } from '../helpers/server.js'

const run = promisify(execFile)
const BIN = path.join(ROOT, 'bin/pyglite.js')

const psql = (url: string, sql: string) =>
  execFileSync('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], {
    encoding: 'utf8',
  }).trim()

const openedMs = (out: string, msg: string) => {
  const line = out.split('\n').find((l) => l.includes(`"msg":"${msg}"`))
  return line ? Number(JSON.parse(line).ms) : Number.NaN
}

describe('data directory', () => {
  it('initialises a new data directory on first start, reopens it later, and keeps what was written', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-life-'))
    try {
      const first = await startServer({ dataDir })
      expect(openedMs(first.output(), 'initialised a new data directory')).toBeGreaterThan(0)
      psql(first.url(), "CREATE TABLE kept(id int, v text); INSERT INTO kept VALUES (1, 'before restart')")
      psql(first.url(), `CREATE FUNCTION kept_py(x int) RETURNS int LANGUAGE plpython3u AS 'return x * 3'`)
      expect(await first.stop('SIGTERM')).toBe(0)
      const second = await startServer({ dataDir })
      expect(openedMs(second.output(), 'opened the data directory')).toBeGreaterThan(0)
      expect(psql(second.url(), 'SELECT v, kept_py(id) FROM kept')).toBe('before restart|3')
      psql(second.url(), "INSERT INTO kept VALUES (2, 'after')")
      expect(await second.stop('SIGINT')).toBe(0)
      const third = await startServer({ dataDir })
      expect(psql(third.url(), "SELECT string_agg(v, ',' ORDER BY id) FROM kept")).toBe(
        'before restart,after',
      )
      await third.stop()
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }, 180_000)
})

describe('pg_dump', () => {
  it('dumps a small database (schema, data, a plpython3u function) that restores into another server', async () => {
    const a = await startServer()
    const b = await startServer()
    try {
      psql(
        a.url(),
        `CREATE TABLE items(id serial PRIMARY KEY, name text NOT NULL, price numeric(8,2));
         INSERT INTO items(name, price) VALUES ('tea', 3.50), ('cake', 4.25);
         CREATE FUNCTION add_tax(p numeric) RETURNS numeric LANGUAGE plpython3u AS $$return p * 2$$;
         CREATE VIEW priced AS SELECT name, add_tax(price) AS taxed FROM items`,
      )
      // Debian's pg_dump 15 refuses a PostgreSQL 18 server: use 18.6's, built from source once
      const bin = pg18Bin()
      const dump = execFileSync(path.join(bin, 'pg_dump'), ['--no-owner', '-d', a.url()], {
        encoding: 'utf8',
      })
      expect(dump).toContain('CREATE TABLE public.items')
      expect(dump).toContain(
        'COPY public.items (id, name, price) FROM stdin;\n1\ttea\t3.50\n2\tcake\t4.25\n\\.',
      )
      expect(dump).toMatch(
        /CREATE FUNCTION public\.add_tax\(p numeric\) RETURNS numeric\s+LANGUAGE plpython3u/,
      )
      const r = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', b.url()], {
        input: dump,
        encoding: 'utf8',
      })
      expect(r.status, r.stderr).toBe(0)
      expect(psql(b.url(), 'SELECT name, taxed FROM priced ORDER BY name')).toBe('cake|8.50\ntea|7.00')
      expect(psql(b.url(), "SELECT nextval('items_id_seq')")).toBe('3')
    } finally {
      await a.stop()
      await b.stop()
    }
  }, 600_000)
})

describe('shutdown', () => {
  it('on SIGTERM lets the running statement finish, then ends every client with FATAL 57P01', async () => {
    const srv = await startServer()
    const { c: busy } = await RawClient.login(srv.port)
    const { c: idle } = await RawClient.login(srv.port)
    // a statement shorter than the 5 s grace period whatever the machine's load
    busy.write(query('SELECT 42 FROM pg_sleep(1.5)'))
    await new Promise((r) => setTimeout(r, 100))
    const exit = srv.stop('SIGTERM')
    const got = await busy.closedByServer(30_000)
    expect(rows(got)).toEqual([['42']])
    expect(fields(got.find((m) => m.type === 'E')!.body)).toMatchObject({
      S: 'FATAL',
      C: '57P01',
      M: 'terminating connection due to administrator command',
    })
    expect(fields((await idle.closedByServer()).find((m) => m.type === 'E')!.body).C).toBe('57P01')
    expect(await exit).toBe(0)
    expect(srv.output()).toContain('"msg":"shut down"')
  }, 60_000)

  it('exits at once on a second signal (killing itself: the engine may be deep in a statement)', async () => {
    const srv = await startServer()
    const { c } = await RawClient.login(srv.port)
    c.write(query('SELECT count(*) FROM generate_series(1, 400000000)'))
    await new Promise((r) => setTimeout(r, 200))
    srv.proc.kill('SIGINT')
    await new Promise((r) => setTimeout(r, 200))
    const t0 = Date.now()
    const exited = new Promise<NodeJS.Signals | null>((r) => srv.proc.once('exit', (_code, sig) => r(sig)))
    srv.proc.kill('SIGINT')
    expect(await exited).toBe('SIGKILL')
    expect(Date.now() - t0).toBeLessThan(3000)
  }, 60_000)
})

describe('command line', () => {
  const cli = (args: string[], env: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
    })
    return { code: r.status, out: r.stdout, err: r.stderr }
  }

  it('prints help and version', () => {
    const h = cli(['--help'])
    expect(h.code).toBe(0)
    for (const flag of [
      '--port',
      '--host',
      '--data-dir',
      '--password',
      '--auth',
      '--tls-cert',
      '--tls-key',
      '--log-level',
    ])
      expect(h.out).toContain(flag)
    expect(h.out).toContain('PYGLITE_PORT')
    const v = cli(['--version'])
    expect(v.code).toBe(0)
    expect(v.out).toMatch(/^pyglite \d+\.\d+\.\d+\n$/)
  })

  it('refuses invalid settings with one line and exit status 2', () => {
    for (const [args, env, msg] of [
      [['--port', 'abc'], {}, 'pyglite: --port: expected an integer from 0 to 65535, got "abc"\n'],
      [['--port', '70000'], {}, 'pyglite: --port: expected an integer from 0 to 65535, got "70000"\n'],
      [[], { PYGLITE_PORT: '-1' }, 'pyglite: --port: expected an integer from 0 to 65535, got "-1"\n'],
      [['--host', ''], {}, 'pyglite: --host: must not be empty, got ""\n'],
      [[], { PYGLITE_DATA_DIR: '' }, 'pyglite: --data-dir: must not be empty, got ""\n'],
      [
        [],
        { PYGLITE_AUTH: '' },
        'pyglite: --auth: expected one of scram-sha-256, md5, password, trust, got ""\n',
      ],
      [
        ['--auth', 'ldap'],
        {},
        'pyglite: --auth: expected one of scram-sha-256, md5, password, trust, got "ldap"\n',
      ],
      [
        ['--log-level', 'loud'],
        {},
        'pyglite: --log-level: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"\n',
      ],
      [['--tls-cert', '/etc/hostname'], {}, 'pyglite: --tls-cert and --tls-key must be given together\n'],
      [
        ['--tls-cert', '/nonexistent', '--tls-key', '/nonexistent'],
        {},
        'pyglite: --tls-cert: cannot read "/nonexistent"\n',
      ],
      [
        ['--auth', 'trust', '--host', '0.0.0.0'],
        {},
        'pyglite: --auth trust is only allowed on a loopback address (got --host 0.0.0.0); add --allow-remote-trust to insist\n',
      ],
      [['--frobnicate'], {}, 'pyglite: unknown option --frobnicate (see --help)\n'],
      [['--port'], {}, 'pyglite: --port needs a value (see --help)\n'],
    ] as const) {
      const r = cli([...args], { ...env })
      expect([args, r.code, r.err]).toEqual([args, 2, msg])
    }
  })

  it("extends Python's sys.path with --python-path and PYGLITE_PYTHON_PATH", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-pypath-'))
    fs.mkdirSync(path.join(dir, 'a'))
    fs.mkdirSync(path.join(dir, 'b'))
    fs.writeFileSync(path.join(dir, 'a', 'mod_from_flag.py'), 'VALUE = "flag"\n')
    fs.writeFileSync(path.join(dir, 'b', 'mod_from_env.py'), 'VALUE = "env"\n')
    const srv = await startServer({
      args: ['--python-path', path.join(dir, 'a')],
      env: { PYGLITE_PYTHON_PATH: path.join(dir, 'b') },
    })
    try {
      psql(
        srv.url(),
        `CREATE FUNCTION both_mods() RETURNS text LANGUAGE plpython3u AS $$
import mod_from_flag, mod_from_env
return mod_from_flag.VALUE + "+" + mod_from_env.VALUE
$$`,
      )
      expect(psql(srv.url(), 'SELECT both_mods()')).toBe('flag+env')
    } finally {
      await srv.stop()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  it('takes settings from PYGLITE_* variables, flags winning', async () => {
    const r = await run(process.execPath, [BIN, '--help'], { env: { ...process.env, PYGLITE_AUTH: 'bogus' } })
    expect(r.stdout).toContain('Usage') // --help does not validate
    const bad = cli([], { PYGLITE_AUTH: 'bogus' })
    expect(bad.code).toBe(2)
    const srv = await startServer({
      args: ['--auth', 'trust'],
      env: { PYGLITE_AUTH: 'bogus', PYGLITE_LOG_LEVEL: 'debug' },
    })
    expect(psql(srv.url(), 'SELECT 1')).toBe('1')
    await new Promise((r) => setTimeout(r, 200))
    expect(srv.output()).toContain('"level":20,') // debug lines: the environment's log level applied
    expect(srv.output()).toContain('"msg":"connection authorized"')
    await srv.stop()
  }, 60_000)
})
