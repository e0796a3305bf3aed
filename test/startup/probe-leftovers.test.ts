// The start-up probes (src/engine/pg/statics.ts) make a few objects in the database they probe and drop
// them again. A server killed between the two (the crash test's SIGKILLs land there too) must still start
// next time, on what the killed one left behind, and the probes must not leave anything of their own.
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'

let server: TestServer | undefined
afterAll(async () => {
  await server?.stop()
})

async function query(s: TestServer, sql: string): Promise<string[]> {
  const c = new pg.Client(s.url())
  await c.connect()
  try {
    const r = await c.query({ text: sql, rowMode: 'array' })
    return r.rows.map((row: unknown[]) => row.join('|'))
  } finally {
    await c.end()
  }
}

const LEFT = `SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relname LIKE 'pyglite\\_probe%' OR n.nspname LIKE 'pyglite\\_probe%' ORDER BY 1`

describe('start-up probes', () => {
  it('start on the objects a probe killed mid-way leaves, and leave none of their own', async () => {
    server = await startServer()
    expect(await query(server, LEFT)).toEqual([])
    // what a server killed inside the probes leaves: the schema of the search-path check with its table,
    // and (before the probe's sequence became a temp one) the sequence
    await query(server, 'CREATE SCHEMA pyglite_probe_ns')
    await query(server, 'CREATE TABLE pyglite_probe_ns.pyglite_probe_t()')
    await query(server, 'CREATE SEQUENCE pyglite_probe_seq')
    const dataDir = server.dataDir
    await server.stop('SIGKILL')
    server = await startServer({ dataDir })
    expect(await query(server, "SELECT pg_catalog.nextval('pyglite_probe_seq')")).toEqual(['1'])
    // the sequence is the user's now (whoever made it); the probe's schema is gone
    expect(await query(server, LEFT)).toEqual(['public.pyglite_probe_seq'])
  })
})
