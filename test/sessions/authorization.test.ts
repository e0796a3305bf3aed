// RESET SESSION AUTHORIZATION and SET SESSION AUTHORIZATION DEFAULT go back to the role the session logged
// in as (PostgreSQL: session_authorization's reset value, set by InitializeSessionUserId). PGlite's
// standalone backend has no such reset value, so each session's login is made the reset value when the
// session switch brings it in (src/engine/sessions/backend.ts); sessions of different logins interleave.
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectPg } from '../helpers/clients.js'
import { startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
const clients: pg.Client[] = []
beforeAll(async () => {
  srv = await startServer()
  const c = await connect('postgres')
  await c.query('CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN')
})
afterAll(async () => {
  for (const c of clients) await c.end().catch(() => {})
  await srv?.stop()
})

async function connect(user: string): Promise<pg.Client> {
  const c = await connectPg(srv, { user })
  clients.push(c)
  return c
}

async function who(c: pg.Client): Promise<string> {
  const r = await c.query(
    "SELECT session_user || '|' || current_user || '|' || current_setting('session_authorization') AS w",
  )
  return r.rows[0].w
}

describe('session authorization', () => {
  it('RESET and DEFAULT go back to each session’s own login, whatever ran in between', async () => {
    const su = await connect('postgres')
    const alice = await connect('alice')
    await su.query('SET SESSION AUTHORIZATION bob')
    expect(await who(su)).toBe('bob|bob|bob')
    // another login's session runs in between: the backend's reset value follows it
    expect(await who(alice)).toBe('alice|alice|alice')
    await alice.query('RESET SESSION AUTHORIZATION')
    expect(await who(alice)).toBe('alice|alice|alice')
    expect(await who(su)).toBe('bob|bob|bob')
    await su.query('RESET SESSION AUTHORIZATION')
    expect(await who(su)).toBe('postgres|postgres|postgres')
    await su.query('SET SESSION AUTHORIZATION alice')
    await su.query('SET ROLE NONE')
    await su.query('SET SESSION AUTHORIZATION DEFAULT')
    expect(await who(su)).toBe('postgres|postgres|postgres')
    // within a transaction that rolls back, as PostgreSQL: the SET is undone, the reset value stays
    await su.query('BEGIN')
    await su.query('SET SESSION AUTHORIZATION bob')
    expect(await who(su)).toBe('bob|bob|bob')
    await su.query('ROLLBACK')
    expect(await who(su)).toBe('postgres|postgres|postgres')
    // a non-superuser still cannot become anyone else, RESET or not
    await expect(alice.query('SET SESSION AUTHORIZATION postgres')).rejects.toMatchObject({
      code: '42501',
      message: 'permission denied to set session authorization "postgres"',
    })
    expect(await who(alice)).toBe('alice|alice|alice')
  })
})
