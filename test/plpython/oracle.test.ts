// Edge cases of the language core whose expected output was recorded on PostgreSQL 15 + plpython3u
// (Debian), run pg_regress-style with psql against a real pyglite server: conversions of unusual return
// shapes and types, tracebacks of nested frames and iterators, compile errors, tab/CRLF bodies,
// set-returning functions interleaved and nested, records with column definition lists, CALL with INOUT
// defaults; PL/Python's error paths (plpython_errors*). (Cases where PostgreSQL 15 crashes are in
// robustness.test.ts.)
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-expect-error: plain ESM module without type declarations (also a CLI)
import { formatReport, runSuite } from '../../scripts/regress/plpython-regress.mjs'
import { ROOT, startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
beforeAll(async () => {
  srv = await startServer()
})
afterAll(async () => {
  await srv?.stop()
})

describe('edge cases recorded on PostgreSQL + plpython3u', () => {
  it('match byte for byte', async () => {
    const r = await runSuite({ url: srv.url(), suite: path.join(ROOT, 'test/plpython/oracle') })
    const failed = (r.results as Array<{ name: string; ok: boolean; diff: string }>).filter((t) => !t.ok)
    if (failed.length) process.stdout.write(`${failed.map((t) => t.diff).join('')}${formatReport(r)}\n`)
    expect(failed.map((t) => t.name)).toEqual([])
    expect(r.total).toBe(
      fs.readFileSync(path.join(ROOT, 'test/plpython/oracle/schedule'), 'utf8').trim().split('\n').length,
    )
  }, 300_000)
})
