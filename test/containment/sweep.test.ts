// Calls every built-in function, aggregate, operator and cast of pg_catalog once (test/containment/calls.ts)
// on a throwaway server and fails on any call that ends the session or the backend, that only a contained
// engine fault stopped (src/engine/pg/faults.ts: "internal error in the database engine"), or that reached a C
// function PGlite lacks (src/engine/pg/missing.ts: 0A000 "… is not supported by pyglite"), instead of
// returning or raising an ordinary ERROR. docs/faults.md lists the outcome.
import fs from 'node:fs'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startReference } from '../helpers/reference.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { type Call, calls } from './calls.js'

let srv: TestServer
let c: pg.Client

async function connect(): Promise<pg.Client> {
  const x = new pg.Client({ connectionString: srv.url(), query_timeout: 20_000 })
  x.on('error', () => {})
  await x.connect()
  await x.query("SET statement_timeout = '5s'")
  return x
}

beforeAll(async () => {
  srv = await startServer()
  c = await connect()
  await c.query("CREATE TYPE public.sweep_enum AS ENUM ('a', 'b')")
}, 120_000)
afterAll(async () => {
  await c?.end().catch(() => {})
  await srv?.stop()
})

interface Outcome {
  /** per call: 'ok' or 'SQLSTATE message' (PYGLITE_SWEEP_DUMP=file writes it as JSON) */
  each: Record<string, string>
  ok: number
  errors: Map<string, number>
  /** calls after which the session or the backend was gone */
  died: string[]
  /** calls stopped by a contained engine fault (a trap, a JS exception) */
  faults: string[]
  /** calls that reached a C function PGlite lacks (src/engine/pg/missing.ts: 0A000 "… not supported by pyglite") */
  unsupported: string[]
}

async function run(list: Call[], client: () => pg.Client = () => c): Promise<Outcome> {
  const o: Outcome = { each: {}, ok: 0, errors: new Map(), died: [], faults: [], unsupported: [] }
  for (const call of list) {
    try {
      await client().query(call.sql)
      o.ok++
      o.each[call.what] = 'ok'
    } catch (e) {
      const err = e as { code?: string; message?: string; severity?: string }
      o.each[call.what] = `${err.code} ${err.message}`
      const gone = err.severity === 'FATAL' || !err.code || (c as unknown as { _ending?: boolean })._ending
      if (gone) {
        o.died.push(`${call.what}: ${err.message}`)
        await c.end().catch(() => {})
        c = await connect()
      } else if (err.message?.startsWith('internal error in the database engine')) {
        o.faults.push(`${call.what}: ${err.message}`)
      } else if (err.code === '0A000' && err.message?.endsWith('is not supported by pyglite')) {
        o.unsupported.push(`${call.what}: ${err.message}`)
      } else o.errors.set(err.code!, (o.errors.get(err.code!) ?? 0) + 1)
    }
  }
  return o
}

describe('every built-in function, operator, cast and aggregate', () => {
  it('returns or raises an ordinary ERROR; none ends the session or the backend', async () => {
    const list = await calls(c)
    const t0 = Date.now()
    const o = await run(list)
    const codes = [...o.errors.entries()].sort((a, b) => b[1] - a[1])
    console.log(
      `${list.length} calls in ${Date.now() - t0} ms: ${o.ok} returned, ${codes.reduce((a, [, n]) => a + n, 0)} ERRORs`,
      `(${codes.map(([k, n]) => `${k} ${n}`).join(', ')}), ${o.faults.length} engine faults, ${o.died.length} ended the session`,
    )
    if (process.env.PYGLITE_SWEEP_DUMP)
      fs.writeFileSync(process.env.PYGLITE_SWEEP_DUMP, JSON.stringify(o.each, null, 1))
    expect(list.length).toBeGreaterThan(3500)
    expect(o.died).toEqual([])
    expect(o.faults).toEqual([])
    expect(o.unsupported).toEqual([])
    // the server is still the same one and answers
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  }, 300_000)
})

// PYGLITE_SWEEP_REF=1: the same calls on a PostgreSQL 15 started for the run; prints the calls whose outcome
// class differs (returned on one, ERROR on the other, or another SQLSTATE), for docs/faults.md
describe.runIf(process.env.PYGLITE_SWEEP_REF === '1')('compared with PostgreSQL 15', () => {
  it('lists the calls whose outcome differs', async () => {
    const ref = await startReference()
    const r = new pg.Client(ref.url)
    r.on('error', () => {})
    await r.connect()
    try {
      await r.query("SET statement_timeout = '5s'")
      await r.query("CREATE TYPE public.sweep_enum AS ENUM ('a', 'b')")
      const ours = await run(await calls(c))
      const theirs = await run(await calls(r), () => r)
      const diffs: string[] = []
      for (const [what, v] of Object.entries(theirs.each)) {
        const g = ours.each[what]
        if (g === undefined) continue
        if (g.slice(0, 5) !== v.slice(0, 5)) diffs.push(`${what}\n  pyglite: ${g}\n  PostgreSQL 15: ${v}`)
      }
      console.log(
        `${Object.keys(theirs.each).length} calls on PostgreSQL 15; ${diffs.length} differ:\n${diffs.join('\n')}`,
      )
    } finally {
      await r.end()
      ref.stop()
    }
  }, 300_000)
})
