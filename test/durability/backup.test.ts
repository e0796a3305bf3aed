// `pyglite backup` / `pyglite restore` (src/backup): a backup taken while the server runs and clients
// commit is a clean point in time (every transaction acknowledged before the backup started is in it,
// every one in it is whole, nothing after it); restore refuses while the server runs, keeps the current
// contents aside, and refuses a damaged backup; an offline backup works too.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { ROOT, startServer } from '../helpers/server.js'
import { psql } from './util.js'

const run = promisify(execFile)
const BIN = path.join(ROOT, 'bin/pyglite.js')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pyglite-backup-'))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

async function pyglite(args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...args], { timeout: 120_000 })
    return { code: 0, out: r.stdout, err: r.stderr }
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string }
    return { code: x.code, out: x.stdout, err: x.stderr }
  }
}

describe('backup and restore', () => {
  it('backs up a running server under write load, and restores that point in time', async () => {
    const srv = await startServer()
    const dataDir = srv.dataDir
    psql(
      srv.url(),
      `CREATE TABLE t(k int, part int, PRIMARY KEY (k, part));
       CREATE FUNCTION triple(x int) RETURNS int LANGUAGE plpython3u AS 'return x * 3';
       INSERT INTO t SELECT k, p FROM generate_series(1, 100) k, generate_series(0, 2) p`,
    )
    // a writer committing 3-row transactions throughout the backup
    const acked: number[] = []
    let stop = false
    const c = new pg.Client({ connectionString: srv.url() })
    await c.connect()
    const writing = (async () => {
      for (let k = 101; !stop; k++) {
        await c.query(`INSERT INTO t VALUES (${k}, 0), (${k}, 1), (${k}, 2)`)
        acked.push(k)
      }
    })()
    await new Promise((r) => setTimeout(r, 300))
    const before = acked.length
    const dest = path.join(tmp, 'live')
    const b = await pyglite(['backup', dest, '--data-dir', dataDir])
    const after = acked.length
    stop = true
    await writing
    await c.end()
    expect(b.err).toBe('')
    expect(b.code).toBe(0)
    expect(b.out).toMatch(
      new RegExp(
        `^pyglite: backup of the running server's "${dataDir}" written to "${dest}": \\d+ files, [\\d.]+ MB, engine paused \\d+ ms\\n$`,
      ),
    )
    expect(srv.output()).toContain('"msg":"live backup written"')
    const manifest = JSON.parse(fs.readFileSync(path.join(dest, 'pyglite-backup.json'), 'utf8'))
    expect(manifest).toMatchObject({ format: 1, live: true, source: dataDir })
    expect(fs.existsSync(path.join(dest, 'pyglite.lock'))).toBe(false)
    expect(fs.existsSync(path.join(dest, 'postgres', 'postmaster.pid'))).toBe(false)
    expect(acked.length).toBeGreaterThan(after) // the writer went on after the backup

    // change everything after the backup
    psql(srv.url(), "DELETE FROM t WHERE k <= 50; CREATE TABLE later(v text); INSERT INTO later VALUES ('x')")
    // restore is refused while the server runs
    const refused = await pyglite(['restore', dest, '--data-dir', dataDir])
    expect(refused.code).toBe(1)
    expect(refused.err).toMatch(
      /^pyglite: restore failed: data directory ".*" is in use by a pyglite server \(process \d+, listening on 127\.0\.0\.1:\d+, started .*\); stop it first\n$/,
    )
    expect(await srv.stop()).toBe(0)

    const r = await pyglite(['restore', dest, '--data-dir', dataDir])
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    const aside = /the previous contents are in "([^"]+)"/.exec(r.out)?.[1]
    expect(aside).toBeDefined()
    expect(fs.existsSync(path.join(aside!, 'postgres', 'PG_VERSION'))).toBe(true) // nothing was deleted

    const back = await startServer({ dataDir })
    try {
      const keys = psql(back.url(), "SELECT k || ':' || count(*) FROM t GROUP BY k ORDER BY k")
        .split('\n')
        .map((l) => l.split(':').map(Number) as [number, number])
      expect(keys.filter(([, n]) => n !== 3)).toEqual([]) // every transaction whole
      const present = new Set(keys.map(([k]) => k))
      for (let k = 1; k <= 100; k++) expect(present.has(k)).toBe(true) // the DELETE came after the backup
      for (const k of acked.slice(0, before)) expect(present.has(k)).toBe(true) // acknowledged before it began
      const highest = Math.max(...present)
      expect(highest).toBeLessThanOrEqual(acked[after] ?? Number.POSITIVE_INFINITY) // nothing from after it
      expect([...present].filter((k) => k > 100).length).toBe(highest - 100) // a prefix: no gaps
      expect(psql(back.url(), "SELECT to_regclass('later') IS NULL, triple(14)")).toBe('t|42')
    } finally {
      await back.stop()
      fs.rmSync(aside!, { recursive: true, force: true })
    }
  }, 300_000)

  it('backs up a stopped server, refuses a non-empty target and a damaged backup', async () => {
    const srv = await startServer()
    const dataDir = srv.dataDir
    psql(srv.url(), "CREATE TABLE kept(v text); INSERT INTO kept VALUES ('offline')")
    expect(await srv.stop()).toBe(0)

    const dest = path.join(tmp, 'offline')
    const b = await pyglite(['backup', dest, '--data-dir', dataDir])
    expect(b.code).toBe(0)
    expect(b.out).toMatch(
      /^pyglite: backup of ".*" \(server stopped\) written to ".*": \d+ files, [\d.]+ MB, \d+ ms\n$/,
    )
    expect(JSON.parse(fs.readFileSync(path.join(dest, 'pyglite-backup.json'), 'utf8')).live).toBe(false)
    expect(fs.readFileSync(path.join(dataDir, 'pyglite.lock'), 'utf8')).toBe('') // released

    const again = await pyglite(['backup', dest, '--data-dir', dataDir])
    expect(again.code).toBe(1)
    expect(again.err).toBe(`pyglite: backup failed: "${dest}" exists and is not empty\n`)

    // damage one data file of a copy of the backup: restore refuses and changes nothing
    const damaged = path.join(tmp, 'damaged')
    fs.cpSync(dest, damaged, { recursive: true })
    const victim = path.join(damaged, 'postgres', 'global', 'pg_control')
    const bytes = fs.readFileSync(victim)
    bytes[100] = bytes[100]! ^ 0xff
    fs.writeFileSync(victim, bytes)
    const target = path.join(tmp, 'restored')
    const bad = await pyglite(['restore', damaged, '--data-dir', target])
    expect(bad.code).toBe(1)
    expect(bad.err).toBe(
      `pyglite: restore failed: backup "${damaged}" is damaged (1 file: postgres/global/pg_control: size or checksum differs); nothing was changed\n`,
    )
    expect(fs.readdirSync(target).filter((n) => n !== 'pyglite.lock')).toEqual([])

    const good = await pyglite(['restore', dest, '--data-dir', target])
    expect(good.code).toBe(0)
    expect(good.out).not.toContain('previous contents') // the target was empty
    const s2 = await startServer({ dataDir: target })
    try {
      expect(psql(s2.url(), 'SELECT v FROM kept')).toBe('offline')
    } finally {
      await s2.stop()
      fs.rmSync(target, { recursive: true, force: true })
    }
  }, 300_000)
})
