// PostgreSQL 18.6's contrib regression suites (hstore, pgcrypto, pg_trgm, … : required.ts CONTRIB_REQUIRED),
// fetched at test time (scripts/get-pg18-contrib.sh) and run pg_regress-style with psql 18 against a real
// pyglite server, each suite in a fresh database made from template0 with its --load-extension options.
// The next suite's database is made and opened while the current suite runs (CREATE DATABASE is a cluster
// copy on a helper thread), which keeps the file's time nearer the suites' own. Prints "N of T pass" per suite and the
// diffs of failures.
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-expect-error: plain ESM module without type declarations (also a CLI)
import { formatReport, runSuite } from '../../scripts/regress/plpython-regress.mjs'
import { pg18Bin } from '../helpers/reference.js'
import { ROOT, startServer, type TestServer } from '../helpers/server.js'
import { CONTRIB_REQUIRED } from './required.js'

interface TestResult {
  name: string
  ok: boolean
  diff: string
}

/** psql -c, resolving when it exits (CREATE DATABASE of the next suite runs beside the current one). */
function psqlAsync(url: string, ...sql: string[]): Promise<string> {
  return new Promise((resolve) => {
    const args = ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, ...sql.flatMap((c) => ['-c', c])]
    const p = spawn('psql', args, { stdio: 'pipe' })
    let out = ''
    p.stdout.on('data', (d) => {
      out += d
    })
    p.stderr.on('data', (d) => {
      out += d
    })
    p.on('exit', () => resolve(out))
  })
}

let srv: TestServer
let dir: string
/** psql 18: the suites' expected output is psql 18's (Debian's psql 15 prints some \d output differently) */
let psql: string
beforeAll(async () => {
  psql = path.join(pg18Bin(), 'psql')
  dir = execFileSync('bash', [path.join(ROOT, 'scripts/get-pg18-contrib.sh')], { encoding: 'utf8' }).trim()
  srv = await startServer()
}, 600_000)
afterAll(async () => {
  await srv?.stop()
})

describe('PostgreSQL 18.6 contrib regression suites', () => {
  it('match their expected output (required.ts CONTRIB_REQUIRED)', async () => {
    const suites = Object.keys(CONTRIB_REQUIRED)
    const dbName = (s: string) => `contrib_regression_${s.replace(/-/g, '_')}`
    // made, and opened by a first connection (the engine opens a database's cluster on demand)
    const create = async (s: string) =>
      (await psqlAsync(
        srv.url(),
        `DROP DATABASE IF EXISTS ${dbName(s)}`,
        `CREATE DATABASE ${dbName(s)} TEMPLATE=template0`,
      )) + (await psqlAsync(srv.url(dbName(s)), 'SELECT 1'))
    const mustFail: string[] = []
    let next = create(suites[0] as string)
    for (let i = 0; i < suites.length; i++) {
      const s = suites[i] as string
      const made = await next
      expect(made).not.toMatch(/ERROR/)
      if (i + 1 < suites.length) next = create(suites[i + 1] as string)
      const suite = path.join(dir, s)
      const load = fs.readFileSync(path.join(suite, 'load'), 'utf8').split('\n').filter(Boolean)
      const r = await runSuite({ url: srv.url(), suite, database: dbName(s), load, created: true, psql })
      const failed = (r.results as TestResult[]).filter((t) => !t.ok)
      process.stdout.write(`${failed.map((t) => t.diff).join('')}== ${s}\n${formatReport(r)}\n`)
      const req = CONTRIB_REQUIRED[s]
      for (const t of failed) if (req === 'all' || req?.includes(t.name)) mustFail.push(`${s}/${t.name}`)
      await psqlAsync(srv.url(), `DROP DATABASE ${dbName(s)}`)
    }
    expect(mustFail).toEqual([])
  }, 900_000)
})
