// A foreign scan blocked inside Python — time.sleep, queue.get, a socket read — is interrupted within a
// second by statement_timeout, by a cancel request, and when its client disconnects; the generator's
// `finally` runs each time (fdwtests.STATE.closed) and the server goes on serving.
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { cancelClient } from '../helpers/clients.js'
import { ROOT, startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
let c: pg.Client

async function closed(): Promise<number> {
  return JSON.parse((await c.query('SELECT fdwstate() AS s')).rows[0].s).closed
}

beforeAll(async () => {
  srv = await startServer({ args: ['--python-path', path.join(ROOT, 'test', 'fdw', 'python')] })
  c = new pg.Client(srv.url())
  await c.connect()
  await c.query(`
    CREATE EXTENSION multicorn;
    CREATE FUNCTION fdwstate() RETURNS text LANGUAGE plpython3u AS $$
      import fdwtests, json
      return json.dumps(fdwtests.STATE) $$;
    CREATE SERVER endless FOREIGN DATA WRAPPER multicorn OPTIONS (wrapper 'fdwtests.Endless');
    CREATE FOREIGN TABLE f_sleep (n int) SERVER endless OPTIONS (block 'sleep');
    CREATE FOREIGN TABLE f_queue (n int) SERVER endless OPTIONS (block 'queue');
    CREATE FOREIGN TABLE f_socket (n int) SERVER endless OPTIONS (block 'socket');`)
}, 120_000)

afterAll(async () => {
  await c?.end()
  await srv?.stop()
})

for (const t of ['f_sleep', 'f_queue', 'f_socket']) {
  it(`statement_timeout interrupts a scan blocked in ${t.slice(2)}`, async () => {
    const before = await closed()
    await c.query("SET statement_timeout = '500ms'")
    const t0 = Date.now()
    const e = await c.query(`SELECT * FROM ${t}`).catch((x) => x)
    const took = Date.now() - t0
    await c.query('RESET statement_timeout')
    expect([e.code, e.message]).toEqual(['57014', 'canceling statement due to statement timeout'])
    expect(took).toBeLessThan(1500)
    expect(await closed()).toBe(before + 1)
  })

  it(`a cancel request interrupts a scan blocked in ${t.slice(2)}`, async () => {
    const before = await closed()
    const t0 = Date.now()
    const p = c.query(`SELECT * FROM ${t}`).catch((x) => x)
    await new Promise((r) => setTimeout(r, 300))
    await cancelClient(srv, c)
    const e = await p
    expect([e.code, e.message]).toEqual(['57014', 'canceling statement due to user request'])
    expect(Date.now() - t0).toBeLessThan(1500)
    expect(await closed()).toBe(before + 1)
  })
}

it('a client that disconnects mid-scan ends it', async () => {
  const before = await closed()
  const d = new pg.Client(srv.url())
  await d.connect()
  d.on('error', () => {}) // the connection we drop
  d.query('SELECT * FROM f_socket').catch(() => {})
  await new Promise((r) => setTimeout(r, 300))
  // drop the connection without a Terminate message
  ;(d as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy()
  const t0 = Date.now()
  let now = before
  while (Date.now() - t0 < 3000 && now === before) {
    await new Promise((r) => setTimeout(r, 100))
    now = await closed()
  }
  expect(now).toBe(before + 1)
  expect(Date.now() - t0).toBeLessThan(1500)
  expect((await c.query('SELECT 1 AS x')).rows).toEqual([{ x: 1 }])
})
