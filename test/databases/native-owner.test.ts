// Several databases share the one native addon: its codec and result buffers, like the wasm memory, must be
// pointed back at a database's runtime when another database was opened or used meanwhile. Without that,
// functions whose results or arguments go through the codec (arrays, jsonb, composites) returned NULL or
// another call's value after a second database opened (seen as flaky contrib transform suites).
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

describe('two databases in turn', () => {
  it('codec results and arguments stay right while another database opens and runs', async () => {
    const admin = new pg.Client({ connectionString: srv.url() })
    await admin.connect()
    await admin.query('CREATE DATABASE owner_x')
    await admin.query('CREATE DATABASE owner_y')
    await admin.end()
    const x = new pg.Client({ connectionString: srv.url('owner_x') })
    await x.connect()
    await x.query(`CREATE FUNCTION arr(n int) RETURNS int[] LANGUAGE plpython3u AS $$ return [n, n + 1] $$`)
    await x.query(`CREATE FUNCTION js(j jsonb) RETURNS text LANGUAGE plpython3u AS $$ return j + '!' $$`)
    const check = async (i: number) => {
      expect((await x.query('SELECT arr($1) AS a, js($2) AS j', [i, `{"i": ${i}}`])).rows[0]).toEqual({
        a: [i, i + 1],
        j: `{"i": ${i}}!`,
      })
    }
    await check(1)
    // the second database opens (a new runtime registers its buffers) and runs functions of its own
    const y = new pg.Client({ connectionString: srv.url('owner_y') })
    await y.connect()
    await y.query(`CREATE FUNCTION arr(n int) RETURNS int[] LANGUAGE plpython3u AS $$ return [n * 10] $$`)
    expect((await y.query('SELECT arr(7) AS a')).rows[0]).toEqual({ a: [70] })
    for (let i = 2; i < 6; i++) {
      await check(i)
      expect((await y.query('SELECT arr($1) AS a', [i])).rows[0]).toEqual({ a: [i * 10] })
    }
    await y.end()
    await check(9)
    await x.end()
  }, 120_000)
})
