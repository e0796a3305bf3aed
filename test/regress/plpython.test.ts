// PostgreSQL 18.6's PL/Python regression suite, obtained at test time (scripts/get-pg18-regress.sh) and
// run pg_regress-style with psql 18 (the expected output is psql 18's) against a real pyglite server.
// Prints "N of 23 pass" and the diffs of the failures; the tests in required.ts must match their expected output exactly.
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-expect-error: plain ESM module without type declarations (also a CLI)
import { formatReport, runSuite } from '../../scripts/regress/plpython-regress.mjs'
import { pg18Bin } from '../helpers/reference.js'
import { ROOT, startServer, type TestServer } from '../helpers/server.js'
import { ALL_REQUIRED, PENDING } from './required.js'

interface TestResult {
  name: string
  ok: boolean
  diff: string
}

describe('PostgreSQL 18.6 PL/Python regression suite', () => {
  let srv: TestServer
  let suite: string
  let psql: string
  beforeAll(async () => {
    psql = path.join(pg18Bin(), 'psql')
    suite = execFileSync('bash', [path.join(ROOT, 'scripts/get-pg18-regress.sh')], {
      encoding: 'utf8',
    }).trim()
    srv = await startServer()
  }, 300_000)
  afterAll(async () => {
    await srv?.stop()
  })

  it('runs all 23 tests; the required ones match exactly', async () => {
    const r = await runSuite({ url: srv.url(), suite, psql })
    const results = r.results as TestResult[]
    const failed = results.filter((t) => !t.ok)
    // the report: pg_regress's summary and the diff of every failure
    process.stdout.write(`${failed.map((t) => t.diff).join('')}${formatReport(r)}\n`)
    for (const [name, why] of Object.entries(PENDING))
      if (failed.some((t) => t.name === name)) process.stdout.write(`pending ${name}: ${why}\n`)
    expect(r.total).toBe(23)
    expect(failed.map((t) => t.name).filter((n) => ALL_REQUIRED.includes(n))).toEqual([])
  }, 600_000)
})
