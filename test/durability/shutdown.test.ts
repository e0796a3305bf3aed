// Clean shutdown beyond the grace period (test/wire/lifecycle.test.ts covers a statement that finishes
// in time and the second signal): a statement still running 5 s after SIGTERM is cancelled — SQL and a
// Python loop alike —, its client gets 57014 then FATAL 57P01, new connections are refused meanwhile, the
// server exits 0 after a shutdown checkpoint (pg_control says "shut down": the next start needs no
// recovery) and releases the lock.
import net from 'node:net'
import { describe, expect, it } from 'vitest'
import { fields, query, RawClient } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'
import { controlState, DB_SHUTDOWNED, lockContents, psql } from './util.js'

const errors = (msgs: Array<{ type: string; body: Buffer }>) =>
  msgs.filter((m) => m.type === 'E').map((m) => fields(m.body))

describe('shutdown', () => {
  it('cancels statements still running after the grace period, checkpoints, and exits 0', async () => {
    const srv = await startServer()
    psql(
      srv.url(),
      `CREATE TABLE done(v text); CREATE FUNCTION spin() RETURNS int LANGUAGE plpython3u AS $$
while True:
    pass
$$`,
    )
    const { c: sql } = await RawClient.login(srv.port)
    const { c: py } = await RawClient.login(srv.port)
    sql.write(query("INSERT INTO done VALUES ('committed before the signal')"))
    await sql.until('Z')
    sql.write(query('SELECT count(*) FROM generate_series(1, 2000000000)'))
    py.write(query('SELECT spin()'))
    await new Promise((r) => setTimeout(r, 300))
    const t0 = Date.now()
    const exit = srv.stop('SIGTERM')
    await new Promise((r) => setTimeout(r, 1000))
    // no longer accepting: the listening socket is closed
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect(srv.port, '127.0.0.1')
      s.once('connect', () => {
        s.destroy()
        resolve('connected')
      })
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'))
    })
    expect(refused).toBe('ECONNREFUSED')
    const [gotSql, gotPy] = await Promise.all([sql.closedByServer(60_000), py.closedByServer(60_000)])
    const waited = Date.now() - t0
    // the SQL statement was running at the end of the grace period: cancelled as such
    const e = errors(gotSql)
    expect(e.map((f) => [f.S, f.C, f.M])).toEqual([
      ['ERROR', '57014', 'canceling statement due to user request'],
      ['FATAL', '57P01', 'terminating connection due to administrator command'],
    ])
    // the Python call was queued behind it and is cancelled wherever it is when its turn starts (its
    // procedure lookup, or the loop): 57014 either way
    const p = errors(gotPy)
    expect(p.map((f) => f.S)).toEqual(['ERROR', 'FATAL'])
    expect(p[0]!.C).toBe('57014')
    expect(p[1]!.C).toBe('57P01')
    expect(waited).toBeGreaterThanOrEqual(4500) // the grace period was given
    expect(await exit).toBe(0)
    expect(controlState(srv.dataDir)).toBe(DB_SHUTDOWNED)
    expect(lockContents(srv.dataDir)).toBe('')
    const again = await startServer({ dataDir: srv.dataDir })
    try {
      expect(again.output()).not.toContain('did not shut down cleanly')
      expect(psql(again.url(), 'SELECT v FROM done')).toBe('committed before the signal')
    } finally {
      await again.stop()
    }
  }, 120_000)

  it('is not held up by a statement whose client vanished during the shutdown', async () => {
    const srv = await startServer()
    psql(
      srv.url(),
      `CREATE FUNCTION spin() RETURNS int LANGUAGE plpython3u AS $$
while True:
    pass
$$`,
    )
    const { c } = await RawClient.login(srv.port)
    c.write(query('SELECT spin()'))
    await new Promise((r) => setTimeout(r, 300))
    const t0 = Date.now()
    const exit = srv.stop('SIGTERM')
    await new Promise((r) => setTimeout(r, 500))
    c.sock.destroy() // gone without a word: nobody is left to wait for, but the engine still runs spin()
    expect(await exit).toBe(0) // before: the engine's close waited for spin() forever
    expect(Date.now() - t0).toBeLessThan(30_000)
    expect(controlState(srv.dataDir)).toBe(DB_SHUTDOWNED)
  }, 90_000)
})
