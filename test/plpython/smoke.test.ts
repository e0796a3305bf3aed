import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers/server.js'

describe('plpython3u through node-postgres', () => {
  let srv: TestServer
  let client: pg.Client
  beforeAll(async () => {
    srv = await startServer()
    client = new pg.Client({ connectionString: srv.url() })
    await client.connect()
  })
  afterAll(async () => {
    await client?.end()
    await srv?.stop()
  })

  it('calls a Python function and reports Python errors with a traceback', async () => {
    await client.query(`CREATE FUNCTION inc(i int) RETURNS int LANGUAGE plpython3u AS $$ return i + 1 $$`)
    expect((await client.query('SELECT inc(41) AS v')).rows[0].v).toBe(42)
    await client.query(`CREATE FUNCTION boom() RETURNS int LANGUAGE plpython3u AS $$
x = 1
return x / 0
$$`)
    const err = await client.query('SELECT boom()').catch((e) => e)
    expect(err.code).toBe('38000')
    expect(err.message).toBe('ZeroDivisionError: division by zero')
    expect(err.where).toContain('PL/Python function "boom", line 3, in <module>')
    expect((await client.query('SELECT inc(1) AS v')).rows[0].v).toBe(2)
  })
})
