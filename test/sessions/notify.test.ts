// LISTEN/NOTIFY per session on the shared backend: a NOTIFY reaches the sessions listening on its channel
// (idle ones at once, with the notifier's process id), not the others; UNLISTEN, DISCARD ALL and a
// disconnect only drop that session's channels; a rolled-back NOTIFY is never delivered.
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

interface Listener {
  c: pg.Client
  pid: number
  got: string[]
}

async function connect(): Promise<Listener> {
  const c = new pg.Client({ connectionString: srv.url() })
  await c.connect()
  const got: string[] = []
  c.on('notification', (n) => got.push(`${n.channel}:${n.payload}:${n.processId}`))
  return { c, pid: (c as unknown as { processID: number }).processID, got }
}

const settle = () => new Promise((r) => setTimeout(r, 300))

describe('LISTEN/NOTIFY', () => {
  it('delivers to the listening sessions only, idle ones at once, with the notifier’s process id', async () => {
    const [a, b, c, d] = await Promise.all([connect(), connect(), connect(), connect()])
    await a.c.query('LISTEN jobs')
    await b.c.query('LISTEN "Jobs"; LISTEN jobs')
    await d.c.query("NOTIFY jobs, 'one'")
    await settle() // a, b and c send nothing: the notification must come by itself
    expect(a.got).toEqual([`jobs:one:${d.pid}`])
    expect(b.got).toEqual([`jobs:one:${d.pid}`])
    expect(c.got).toEqual([])
    expect(d.got).toEqual([])
    await d.c.query(`SELECT pg_notify('Jobs', 'two')`)
    await settle()
    expect(b.got.slice(1)).toEqual([`Jobs:two:${d.pid}`])
    expect(a.got).toHaveLength(1)
    // a session listening on its own channel gets its own notification, as in PostgreSQL
    await a.c.query("NOTIFY jobs, 'self'")
    await settle()
    expect(a.got.slice(1)).toEqual([`jobs:self:${a.pid}`])
    expect(b.got.slice(2)).toEqual([`jobs:self:${a.pid}`])
    await Promise.all([a, b, c, d].map((x) => x.c.end()))
  })

  it('UNLISTEN, DISCARD ALL and a disconnect drop only that session’s channels', async () => {
    const [a, b, n] = await Promise.all([connect(), connect(), connect()])
    await a.c.query('LISTEN q1')
    await b.c.query('LISTEN q1; LISTEN q2')
    await a.c.query('UNLISTEN q1')
    await n.c.query("NOTIFY q1, 'x'")
    await settle()
    expect(a.got).toEqual([])
    expect(b.got).toEqual([`q1:x:${n.pid}`])
    await a.c.query('LISTEN q2')
    await a.c.query('DISCARD ALL')
    await n.c.query("NOTIFY q2, 'y'")
    await settle()
    expect(a.got).toEqual([])
    expect(b.got.slice(1)).toEqual([`q2:y:${n.pid}`])
    await b.c.end()
    // nobody listens any more: the shared backend stopped listening too
    expect((await n.c.query('SELECT count(*)::int AS n FROM pg_listening_channels()')).rows).toEqual([
      { n: 0 },
    ])
    await a.c.query('LISTEN q2')
    await n.c.query("NOTIFY q2, 'z'")
    await settle()
    expect(a.got).toEqual([`q2:z:${n.pid}`])
    await Promise.all([a.c.end(), n.c.end()])
  })

  it('delivers a NOTIFY at COMMIT, never after ROLLBACK', async () => {
    const [a, n] = await Promise.all([connect(), connect()])
    await a.c.query('LISTEN tx')
    await n.c.query("BEGIN; NOTIFY tx, 'rolled back'")
    await settle()
    await n.c.query('ROLLBACK')
    await n.c.query("BEGIN; NOTIFY tx, 'committed'")
    await settle()
    expect(a.got).toEqual([])
    await n.c.query('COMMIT')
    await settle()
    expect(a.got).toEqual([`tx:committed:${n.pid}`])
    await Promise.all([a.c.end(), n.c.end()])
  })
})
