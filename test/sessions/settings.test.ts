// Settings are private per session on the shared backend: SET, RESET, set_config, SET LOCAL, RESET ALL and
// DISCARD ALL act on the session that ran them only, and a client hears ParameterStatus only when a value
// it was told about changes (postgres.c ReportChangedGUCOptions as seen from one backend per client).
import { execFileSync } from 'node:child_process'
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

const psql = (sql: string) =>
  execFileSync('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', srv.url(), '-c', sql], {
    encoding: 'utf8',
  }).trim()

/** A client that records every ParameterStatus it receives after start-up. */
async function connect(extra: Partial<pg.ClientConfig> = {}) {
  const c = new pg.Client({ connectionString: srv.url(), ...extra })
  const status: Array<[string, string]> = []
  let started = false
  ;(c as unknown as { connection: NodeJS.EventEmitter }).connection.on(
    'parameterStatus',
    (m: { parameterName: string; parameterValue: string }) => {
      if (started) status.push([m.parameterName, m.parameterValue])
    },
  )
  await c.connect()
  started = true
  const one = async (sql: string) => (await c.query(sql)).rows[0] as Record<string, string>
  return { c, status, one }
}

describe('settings per session', () => {
  it('does not leak a SET to the next connection (psql -c SET, then a new psql)', () => {
    expect(psql("SET work_mem = '7MB'")).toBe('SET')
    expect(psql('SHOW work_mem')).toBe('4MB')
    expect(psql("SELECT set_config('statement_timeout', '5s', false)")).toBe('5s')
    expect(psql('SHOW statement_timeout')).toBe('0')
  })

  it('keeps SET, set_config, RESET and SET LOCAL of two interleaved sessions apart', async () => {
    const a = await connect()
    const b = await connect()
    await a.c.query("SET work_mem = '7MB'")
    await b.c.query("SELECT set_config('work_mem', '9MB', false)")
    await a.c.query("SET lock_timeout = '3s'")
    const show = "SELECT current_setting('work_mem') AS wm, current_setting('lock_timeout') AS lt"
    for (let i = 0; i < 3; i++) {
      const [ra, rb] = await Promise.all([a.one(show), b.one(show)])
      expect(ra).toEqual({ wm: '7MB', lt: '3s' })
      expect(rb).toEqual({ wm: '9MB', lt: '0' })
    }
    // SET LOCAL lasts until the end of its transaction, and only there
    await b.c.query("BEGIN; SET LOCAL work_mem = '1MB'")
    expect(await b.one(show)).toEqual({ wm: '1MB', lt: '0' })
    await b.c.query('COMMIT')
    expect(await b.one(show)).toEqual({ wm: '9MB', lt: '0' })
    // a SET rolled back with its transaction is undone
    await a.c.query("BEGIN; SET work_mem = '2MB'; ROLLBACK")
    expect(await a.one(show)).toEqual({ wm: '7MB', lt: '3s' })
    await a.c.query('RESET work_mem')
    expect(await a.one(show)).toEqual({ wm: '4MB', lt: '3s' })
    expect(await b.one(show)).toEqual({ wm: '9MB', lt: '0' })
    await Promise.all([a.c.end(), b.c.end()])
  })

  it('RESET ALL and DISCARD ALL go back to the session’s own start-up values', async () => {
    const a = await connect({ options: '-c work_mem=6MB -c search_path=pg_catalog' })
    const b = await connect()
    const show = "SELECT current_setting('work_mem') AS wm, current_setting('search_path') AS sp"
    await a.c.query("SET work_mem = '11MB'; SET search_path = public")
    await b.c.query("SET work_mem = '12MB'")
    await a.c.query('RESET ALL')
    expect(await a.one(show)).toEqual({ wm: '6MB', sp: 'pg_catalog' })
    expect(await b.one(show)).toEqual({ wm: '12MB', sp: '"$user", public' })
    await b.c.query('DISCARD ALL')
    expect(await b.one(show)).toEqual({ wm: '4MB', sp: '"$user", public' })
    expect(await a.one(show)).toEqual({ wm: '6MB', sp: 'pg_catalog' })
    await Promise.all([a.c.end(), b.c.end()])
  })

  it('sends ParameterStatus only when a value the client saw changes', async () => {
    const a = await connect()
    const b = await connect()
    await a.c.query("SET application_name = 'alpha'")
    expect(a.status).toEqual([['application_name', 'alpha']])
    await a.c.query("SET DateStyle = 'German'")
    expect(a.status.slice(1)).toEqual([['DateStyle', 'German, DMY']])
    // switching between the two sessions restores their values without telling either of them
    for (let i = 0; i < 3; i++) {
      await b.c.query('SELECT 1')
      await a.c.query('SELECT 1')
    }
    expect(b.status).toEqual([])
    expect(a.status).toEqual([
      ['application_name', 'alpha'],
      ['DateStyle', 'German, DMY'],
    ])
    expect(
      await b.one("SELECT current_setting('application_name') AS app, '2024-03-01'::date::text AS d"),
    ).toEqual({
      app: '',
      d: '2024-03-01',
    })
    // a SET to the value it already has is not reported again; its own RESET is
    await a.c.query("SET application_name = 'alpha'")
    expect(a.status).toHaveLength(2)
    await a.c.query('RESET application_name')
    expect(a.status.slice(2)).toEqual([['application_name', '']])
    expect(b.status).toEqual([])
    await Promise.all([a.c.end(), b.c.end()])
  })
})
