// The yardstick: a private PostgreSQL 15 + plpython3u from Debian's packages (postgresql-15,
// postgresql-plpython3-15), initdb'd in a temporary directory on a free port for one benchmark run, so
// both servers are measured side by side on the same machine at the same time. Settings as PGlite runs:
// no JIT, no parallel workers (PGlite has neither). Root runs it as the `postgres` OS user (initdb
// refuses root).
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

const BIN = process.env.PYGLITE_REFPG_BIN ?? '/usr/lib/postgresql/15/bin'

/** A free TCP port on the loopback interface. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

const asRoot = process.getuid?.() === 0

/** Run a PostgreSQL program (as the `postgres` OS user when root: initdb refuses root); its stdout. */
export function runAsPostgres(cmd, args, opts = {}) {
  const r = asRoot
    ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8', ...opts })
    : spawnSync(cmd, args, { encoding: 'utf8', ...opts })
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} failed: ${r.stdout}${r.stderr}`)
  return r.stdout
}

/** A new temporary directory the `postgres` OS user may write (its owner when root). */
export function postgresTempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  if (asRoot) execFileSync('chown', ['postgres:', dir])
  return dir
}

/** Start the reference server; returns { url, version, stop() }. Throws if the packages are missing. */
export async function startReference() {
  if (!fs.existsSync(path.join(BIN, 'postgres')))
    throw new Error(`no PostgreSQL at ${BIN} (apt-get install postgresql-15 postgresql-plpython3-15)`)
  const run = runAsPostgres
  const dir = postgresTempDir('pyglite-refpg-')
  const data = path.join(dir, 'data')
  run(path.join(BIN, 'initdb'), ['-D', data, '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--auth=trust'])
  const port = await freePort()
  fs.appendFileSync(
    path.join(data, 'postgresql.conf'),
    [
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${dir}'`,
      'jit = off',
      'max_parallel_workers_per_gather = 0',
      'fsync = off', // the benchmark measures execution, not the disk; PGlite's data lands in the page cache too
      '',
    ].join('\n'),
  )
  run(path.join(BIN, 'pg_ctl'), ['-D', data, '-l', path.join(dir, 'log'), '-w', '-t', '60', 'start'])
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`
  const psql = (sql) =>
    execFileSync(path.join(BIN, 'psql'), ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], {
      encoding: 'utf8',
    }).trim()
  psql('CREATE EXTENSION IF NOT EXISTS plpython3u')
  const version = psql('SELECT version()')
  return {
    url,
    version,
    stop() {
      try {
        run(path.join(BIN, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop'])
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    },
  }
}
