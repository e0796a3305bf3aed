// Temporary tables on the shared backend (one temp schema for all sessions): each session's temp tables
// are dropped when it disconnects; while connected, names clash between sessions (documented limit).
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
beforeAll(async () => {
  srv = await startServer()
})
afterAll(async () => {
  await srv?.stop()
})

async function connect(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: srv.url() })
  await c.connect()
  return c
}

const temps = (c: pg.Client) =>
  c
    .query(
      "SELECT string_agg(relname, ',' ORDER BY relname) AS names FROM pg_class WHERE relnamespace = pg_my_temp_schema() AND relkind IN ('r', 'v', 'S')",
    )
    .then((r) => r.rows[0].names as string | null)

describe('temporary tables', () => {
  it('drops a session’s temp tables, views and sequences when it disconnects, and only its own', async () => {
    const a = await connect()
    const b = await connect()
    await a.query('CREATE TEMP TABLE a_t(v int); CREATE TEMPORARY VIEW a_v AS SELECT 1 AS one')
    await a.query('CREATE TEMP SEQUENCE a_s; SELECT 1 AS x INTO TEMP a_into')
    await b.query('BEGIN; CREATE TEMP TABLE b_t(v int); INSERT INTO b_t VALUES (1); COMMIT')
    expect(await temps(b)).toBe('a_into,a_s,a_t,a_v,b_t')
    // the documented limit: one temp schema, so the same name in two sessions clashes
    const clash = await b.query('CREATE TEMP TABLE a_t(v int)').catch((e) => e)
    expect([clash.code, clash.message]).toEqual(['42P07', 'relation "a_t" already exists'])
    await a.end()
    const c = await connect()
    expect(await temps(c)).toBe('b_t')
    expect((await b.query('SELECT count(*)::int AS n FROM b_t')).rows).toEqual([{ n: 1 }])
    // a killed client's temp tables go as well
    await c.query('CREATE TEMP TABLE c_t(v int)')
    c.on('error', () => {})
    ;(c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy()
    await new Promise((r) => setTimeout(r, 300))
    expect(await temps(b)).toBe('b_t')
    await b.end()
  })
})
