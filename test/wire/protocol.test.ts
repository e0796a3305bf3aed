// The protocol at the byte level against the real server: start-up (ParameterStatus set, BackendKeyData,
// protocol negotiation, SSL/GSS requests, bad settings), GUC reports, notices, pipelining, Flush,
// malformed and oversized messages (FATAL 08P01, nobody else affected), CancelRequest keys, Terminate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cancelPacket } from '../helpers/clients.js'
import { fields, message, parameters, query, RawClient, rows, startupPacket } from '../helpers/raw.js'
import { startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
beforeAll(async () => {
  srv = await startServer()
})
afterAll(async () => {
  await srv?.stop()
})

const errorOf = (msgs: { type: string; body: Buffer }[]) => {
  const e = msgs.find((m) => m.type === 'E')
  return e ? fields(e.body) : undefined
}

describe('start-up', () => {
  it('reports the ParameterStatus set of PostgreSQL 18 with the values the session really has', async () => {
    const { c, startup } = await RawClient.login(srv.port, {
      application_name: 'proto-test',
      client_encoding: 'LATIN1',
      DateStyle: 'ISO, DMY',
      TimeZone: 'Europe/Paris',
      options: '-c IntervalStyle=iso_8601',
    })
    const p = parameters(startup)
    expect([...p.keys()].sort()).toEqual(
      [
        'application_name',
        'client_encoding',
        'DateStyle',
        'default_transaction_read_only',
        'in_hot_standby',
        'integer_datetimes',
        'IntervalStyle',
        'is_superuser',
        'scram_iterations',
        'search_path',
        'server_encoding',
        'server_version',
        'session_authorization',
        'standard_conforming_strings',
        'TimeZone',
      ].sort(),
    )
    expect(Object.fromEntries(p)).toMatchObject({
      application_name: 'proto-test',
      client_encoding: 'LATIN1',
      DateStyle: 'ISO, DMY',
      TimeZone: 'Europe/Paris',
      IntervalStyle: 'iso_8601',
      server_version: '18.6',
      server_encoding: 'UTF8',
      integer_datetimes: 'on',
      standard_conforming_strings: 'on',
      is_superuser: 'on',
      session_authorization: 'postgres',
      in_hot_standby: 'off',
      default_transaction_read_only: 'off',
      search_path: '"$user", public',
    })
    // the order PostgreSQL uses: AuthenticationOk, ParameterStatus…, BackendKeyData, ReadyForQuery
    expect(startup[0]!.type).toBe('R')
    expect(startup.slice(-2).map((m) => m.type)).toEqual(['K', 'Z'])
    expect(startup.at(-1)!.body.toString()).toBe('I')
    // and the session really has those settings
    const r = rows(
      await c.query(
        "SELECT current_setting('TimeZone'), current_setting('IntervalStyle'), '1 day'::interval",
      ),
    )
    expect(r).toEqual([['Europe/Paris', 'iso_8601', 'P1D']])
    c.end()
  })

  it('gives each connection its own process id and a random secret', async () => {
    const keys = []
    for (let i = 0; i < 3; i++) {
      const { c, startup } = await RawClient.login(srv.port)
      const k = startup.find((m) => m.type === 'K')!.body
      keys.push([k.readInt32BE(0), k.readInt32BE(4)])
      c.end()
    }
    expect(new Set(keys.map((k) => k[0])).size).toBe(3)
    expect(new Set(keys.map((k) => k[1])).size).toBe(3)
  })

  it('answers SSLRequest and GSSENCRequest with N when TLS is off, then starts normally', async () => {
    const c = await RawClient.connect(srv.port)
    const req = (code: number) => {
      const b = Buffer.alloc(8)
      b.writeInt32BE(8, 0)
      b.writeInt32BE(code, 4)
      return b
    }
    c.write(req(80877104))
    expect((await c.bytes(1)).toString()).toBe('N')
    c.write(req(80877103))
    expect((await c.bytes(1)).toString()).toBe('N')
    c.write(startupPacket({ user: 'postgres' }))
    const msgs = await c.until('Z')
    expect(msgs[0]!.type).toBe('R')
    c.end()
  })

  it('negotiates protocol 3.2 and unknown _pq_ options down to 3.0', async () => {
    const c = await RawClient.connect(srv.port)
    c.write(startupPacket({ user: 'postgres', '_pq_.frobnicate': 'on' }, (3 << 16) | 2))
    const msgs = await c.until('Z')
    const v = msgs[0]!
    expect(v.type).toBe('v')
    expect(v.body.readInt32BE(0)).toBe(3 << 16)
    expect(v.body.readInt32BE(4)).toBe(1)
    expect(v.body.subarray(8).toString()).toBe('_pq_.frobnicate\0')
    expect(rows(await c.query('SELECT 1'))).toEqual([['1']])
    c.end()
  })

  it('refuses an unknown setting or a bad value with PostgreSQL FATAL errors', async () => {
    for (const [params, code, msg] of [
      [{ no_such_setting: '1' }, '42704', 'unrecognized configuration parameter "no_such_setting"'],
      [{ DateStyle: 'bogus' }, '22023', 'invalid value for parameter "DateStyle": "bogus"'],
      [{ database: 'nope' }, '3D000', 'database "nope" does not exist'],
      [{ user: 'nobody' }, '28000', 'role "nobody" does not exist'],
    ] as const) {
      const c = await RawClient.connect(srv.port)
      c.write(startupPacket({ user: 'postgres', ...params }))
      const e = errorOf(await c.closedByServer())
      expect(e).toMatchObject({ S: 'FATAL', C: code, M: msg })
    }
  })
})

describe('queries', () => {
  it('reports a changed GUC_REPORT setting with ParameterStatus before ReadyForQuery', async () => {
    const { c } = await RawClient.login(srv.port)
    const msgs = await c.query("SET application_name = 'renamed'; SET DateStyle = 'German'")
    expect(Object.fromEntries(parameters(msgs))).toEqual({
      application_name: 'renamed',
      DateStyle: 'German, DMY',
    })
    expect(msgs.at(-1)!.type).toBe('Z')
    c.end()
  })

  it('delivers NOTICEs with their fields, before the command completes', async () => {
    const { c } = await RawClient.login(srv.port)
    const msgs = await c.query("DO $$ BEGIN RAISE NOTICE 'hello %', 42 USING HINT = 'hi'; END $$")
    expect(msgs.map((m) => m.type)).toEqual(['N', 'C', 'Z'])
    expect(fields(msgs[0]!.body)).toMatchObject({ S: 'NOTICE', C: '00000', M: 'hello 42', H: 'hi' })
    c.end()
  })

  it('delivers a NOTICE while the statement that raised it is still running', async () => {
    const { c } = await RawClient.login(srv.port)
    c.write(query("DO $$\nimport time\nplpy.notice('early')\ntime.sleep(1.5)\n$$ LANGUAGE plpython3u"))
    const t0 = Date.now()
    const n = await c.next()
    const tNotice = Date.now() - t0
    expect(n!.type).toBe('N')
    expect(fields(n!.body).M).toBe('early')
    const rest = await c.until('Z')
    expect(rest.map((m) => m.type)).toEqual(['C', 'Z'])
    expect(Date.now() - t0 - tNotice).toBeGreaterThan(1000) // the statement went on after the notice
    c.end()
  })

  it('answers pipelined queries in order, and an extended batch with Flush before its Sync', async () => {
    const { c } = await RawClient.login(srv.port)
    c.write(Buffer.concat([query('SELECT 1'), query('SELECT 2'), query('SELECT 3')]))
    const r: string[] = []
    for (let i = 0; i < 3; i++) r.push(...rows(await c.until('Z')).map((x) => x[0]!))
    expect(r).toEqual(['1', '2', '3'])
    c.write(
      Buffer.concat([
        message('P', Buffer.from('\0SELECT 40 + $1::int\0\0\0')),
        message('B', Buffer.from('\0\0\0\0\0\x01\0\0\0\x012\0\0')),
        message('E', Buffer.from('\0\0\0\0\0')),
        message('H'),
      ]),
    )
    const upToC = await c.until('C') // results arrive without a Sync (Flush)
    expect(upToC.map((m) => m.type)).toEqual(['1', '2', 'D', 'C'])
    expect(rows(upToC)).toEqual([['42']])
    c.write(message('S'))
    expect((await c.until('Z')).map((m) => m.type)).toEqual(['Z'])
    c.end()
  })
})

describe('bad input', () => {
  it('ends a connection that sends an unknown message type with FATAL 08P01; others are unaffected', async () => {
    const { c: other } = await RawClient.login(srv.port)
    expect(
      (await other.query('BEGIN; CREATE TABLE proto_t(a int); INSERT INTO proto_t VALUES (1)'))
        .at(-1)!
        .body.toString(),
    ).toBe('T')
    const { c } = await RawClient.login(srv.port)
    c.write(Buffer.from([0x21, 0, 0, 0, 4]))
    const msgs = await c.closedByServer()
    expect(errorOf(msgs)).toMatchObject({ S: 'FATAL', C: '08P01', M: 'invalid frontend message type 33' })
    // the other client's transaction goes on and commits
    expect(errorOf(await other.query('INSERT INTO proto_t VALUES (2); COMMIT'))).toBeUndefined()
    expect(rows(await other.query('SELECT sum(a) FROM proto_t'))).toEqual([['3']])
    other.end()
  })

  it('ends a connection whose message claims an oversized length, before reading the body', async () => {
    const { c } = await RawClient.login(srv.port)
    c.write(Buffer.from([0x53, 0, 1, 0, 0])) // Sync of 65536 bytes: over the 10000-byte limit
    expect(errorOf(await c.closedByServer())).toMatchObject({ C: '08P01', M: 'invalid message length' })
    const { c: after } = await RawClient.login(srv.port)
    expect(rows(await after.query('SELECT 7'))).toEqual([['7']])
    after.end()
  })

  it('runs what came before a bad message, then ends with FATAL', async () => {
    const { c } = await RawClient.login(srv.port)
    c.write(Buffer.concat([query('SELECT 5'), Buffer.from([0x70, 0, 0, 0, 5, 0])])) // 'p' after start-up
    const msgs = await c.closedByServer()
    expect(rows(msgs)).toEqual([['5']])
    expect(errorOf(msgs)).toMatchObject({ C: '08P01', M: 'invalid frontend message type 112' })
  })
})

describe('garbage inside well-framed messages', () => {
  it('gets ERRORs, never takes the shared backend down (fixed-seed fuzz of every message type)', async () => {
    let seed = 12345
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed % n
    }
    const types = ['P', 'B', 'E', 'D', 'C', 'H', 'S', 'F', 'd', 'c', 'f', 'Q']
    const { c } = await RawClient.login(srv.port)
    let errors = 0
    for (let i = 0; i < 300; i++) {
      const body = Buffer.alloc(rand(40))
      for (let j = 0; j < body.length; j++) body[j] = rand(4) === 0 ? 0 : rand(256)
      c.write(Buffer.concat([message(types[rand(types.length)]!, body), message('S')]))
      const msgs = await c.until('Z')
      errors += msgs.filter((m) => m.type === 'E').length
      for (const m of msgs.filter((x) => x.type === 'E')) expect(fields(m.body).S).toBe('ERROR')
    }
    expect(errors).toBeGreaterThan(100)
    expect(rows(await c.query('SELECT 1'))).toEqual([['1']])
    c.end()
    const { c: d } = await RawClient.login(srv.port)
    expect(rows(await d.query('SELECT 2'))).toEqual([['2']])
    d.end()
  })
})

describe('cancel and terminate', () => {
  const SLOW = 'SELECT count(*) FROM generate_series(1, 30000000)'
  it('cancels the running statement with the right key (57014); a wrong key does nothing', async () => {
    const { c, startup } = await RawClient.login(srv.port)
    const k = startup.find((m) => m.type === 'K')!.body
    const pid = k.readInt32BE(0)
    const secret = k.readInt32BE(4)
    // wrong secret: the statement completes with its result
    c.write(query('SELECT count(*) FROM generate_series(1, 3000000)'))
    const wrong = await RawClient.connect(srv.port)
    wrong.write(cancelPacket(pid, secret ^ 1))
    expect(await wrong.closedByServer()).toEqual([])
    expect(rows(await c.until('Z'))).toEqual([['3000000']])
    // right key: canceled, and the session goes on
    c.write(query(SLOW))
    await new Promise((r) => setTimeout(r, 200))
    const right = await RawClient.connect(srv.port)
    right.write(cancelPacket(pid, secret))
    await right.closedByServer()
    const msgs = await c.until('Z')
    expect(errorOf(msgs)).toMatchObject({ C: '57014', M: 'canceling statement due to user request' })
    expect(rows(await c.query('SELECT 8'))).toEqual([['8']])
    c.end()
  })

  it('rolls back a transaction left open by Terminate', async () => {
    const { c } = await RawClient.login(srv.port)
    await c.query('CREATE TABLE term_t(a int)')
    await c.query('BEGIN; INSERT INTO term_t VALUES (1)')
    c.write(message('X'))
    expect(await c.closedByServer()).toEqual([])
    const { c: d } = await RawClient.login(srv.port)
    expect(rows(await d.query('SELECT count(*) FROM term_t'))).toEqual([['0']])
    d.end()
  })
})
