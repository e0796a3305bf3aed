// The data directory's lock (src/util/datadir.ts): a second server on the same directory is refused with one
// line and exit status 1 (PGlite's postmaster.pid says pid -42, so PostgreSQL's own check protects
// nothing); a lock left by a server killed with SIGKILL, or a lock file naming a process that is alive but
// holds no lock, is taken over with a warning; a clean stop releases it and leaves a shut-down cluster.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { ROOT, startServer } from '../helpers/server.js'
import { controlState, DB_IN_PRODUCTION, DB_SHUTDOWNED, lockContents, psql } from './util.js'

const run = promisify(execFile)
const BIN = path.join(ROOT, 'bin/pyglite.js')

async function pyglite(args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...args], { timeout: 60_000 })
    return { code: 0, out: r.stdout, err: r.stderr }
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string }
    return { code: x.code, out: x.stdout, err: x.stderr }
  }
}

describe('data directory lock', () => {
  it('refuses a second server on the same data directory with one line and exit status 1', async () => {
    const a = await startServer()
    try {
      psql(a.url(), "CREATE TABLE mine(v text); INSERT INTO mine VALUES ('a')")
      const holder = JSON.parse(lockContents(a.dataDir))
      expect(holder).toMatchObject({ pid: a.proc.pid, role: 'server', host: '127.0.0.1', port: a.port })
      const t0 = Date.now()
      const b = await pyglite(['--port', '0', '--auth', 'trust', '--data-dir', a.dataDir])
      expect(b.code).toBe(1)
      expect(b.err).toMatch(
        new RegExp(
          `^pyglite: could not start: data directory "${a.dataDir}" is in use by a pyglite server \\(process ${a.proc.pid}, listening on 127\\.0\\.0\\.1:${a.port}, started [0-9T:.Z-]+\\); stop it first\\n$`,
        ),
      )
      expect(Date.now() - t0).toBeLessThan(20_000) // refused before opening anything
      // the first server did not notice
      expect(psql(a.url(), 'SELECT v FROM mine')).toBe('a')
      expect(JSON.parse(lockContents(a.dataDir)).pid).toBe(a.proc.pid)
    } finally {
      await a.stop()
    }
  }, 90_000)

  it('takes over a lock left by a killed server, or naming a live process that is not a pyglite holder', async () => {
    const a = await startServer()
    const dataDir = a.dataDir
    psql(a.url(), "CREATE TABLE kept(v text); INSERT INTO kept VALUES ('acknowledged')")
    expect(await a.stop('SIGKILL')).toBe(null)
    expect(JSON.parse(lockContents(dataDir)).pid).toBe(a.proc.pid) // the dead server's record is still there
    expect(controlState(dataDir)).toBe(DB_IN_PRODUCTION)

    const b = await startServer({ dataDir })
    expect(b.output()).toContain('did not shut down cleanly')
    expect(b.output()).toContain(`"previous":{"pid":${a.proc.pid},"role":"server"`)
    expect(JSON.parse(lockContents(dataDir)).pid).toBe(b.proc.pid)
    expect(psql(b.url(), 'SELECT v FROM kept')).toBe('acknowledged')
    expect(await b.stop('SIGTERM')).toBe(0)
    expect(lockContents(dataDir)).toBe('') // released: an empty lock file means a clean stop
    expect(controlState(dataDir)).toBe(DB_SHUTDOWNED)

    // a record naming process 1 (alive, but it holds no lock on this file): stale, taken over
    fs.writeFileSync(path.join(dataDir, 'pyglite.lock'), '{"pid":1,"role":"server","startedAt":"then"}\n')
    const c = await startServer({ dataDir })
    expect(c.output()).toContain('"previous":{"pid":1,')
    expect(psql(c.url(), 'SELECT v FROM kept')).toBe('acknowledged')
    expect(await c.stop('SIGINT')).toBe(0)
    expect(lockContents(dataDir)).toBe('')
  }, 180_000)
})
