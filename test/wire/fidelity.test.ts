// The protocol as clients see it, byte for byte against PostgreSQL 15: the same raw-protocol script runs
// on pyglite and on the reference and the message sequences (types, fields, rows) must match. Cases where
// the two differed: notifications of one transaction delivered to another session, and a message that
// COPY FROM STDIN refuses (PostgreSQL: ERROR, then FATAL for that connection only).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cancelPacket } from '../helpers/clients.js'
import { fields, type Msg, message, query, RawClient, startupPacket } from '../helpers/raw.js'
import { type Reference, startReference } from '../helpers/reference.js'
import { startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
let ref: Reference
beforeAll(async () => {
  ;[srv, ref] = await Promise.all([startServer(), startReference()])
}, 120_000)
afterAll(async () => {
  ref?.stop()
  await srv?.stop()
})

const refPort = () => Number(new URL(ref.url).port)

/** A message as a comparable line: errors and notices by severity, code, message and context. */
function show(m: Msg): string {
  switch (m.type) {
    case 'E':
    case 'N': {
      const f = fields(m.body)
      return `${m.type} ${f.S} ${f.C} ${f.M}${f.W ? ` | ${f.W}` : ''}`
    }
    case 'A': {
      // the notifying process id differs between servers: channel and payload only
      const b = m.body.subarray(4)
      const [channel, payload] = b.toString('utf8').split('\0')
      return `A ${channel} ${payload}`
    }
    default:
      return `${m.type} ${Array.from(m.body, (b) => (b < 32 ? '.' : String.fromCharCode(b))).join('')}`
  }
}

/** Run `script` on both servers; returns the two traces. */
async function both(script: (port: number, trace: string[]) => Promise<void>): Promise<[string[], string[]]> {
  const out: string[][] = []
  for (const port of [refPort(), srv.port]) {
    const trace: string[] = []
    await script(port, trace)
    out.push(trace)
  }
  return [out[0]!, out[1]!]
}

const CopyData = (s: string) => message('d', s)

describe('notifications', () => {
  it("delivers every notification of another session's transaction, in order (was: only the first)", async () => {
    const [pg, glite] = await both(async (port, trace) => {
      const { c: listener } = await RawClient.login(port)
      await listener.query('LISTEN fid_ch')
      const { c: notifier } = await RawClient.login(port)
      await notifier.query("NOTIFY fid_ch, 'one'; NOTIFY fid_ch, 'two'; SELECT pg_notify('fid_ch', 'three')")
      await notifier.query("BEGIN; NOTIFY fid_ch, 'a'; NOTIFY fid_ch, 'a'; NOTIFY fid_ch, 'b'; COMMIT")
      notifier.end()
      // five notifications (the duplicate 'a' of one transaction is folded), then the query's own answer
      for (let i = 0; i < 5; i++) trace.push(show((await listener.next())!))
      trace.push(...(await listener.query('SELECT 1')).map(show))
      listener.end()
    })
    expect(glite).toEqual(pg)
    expect(glite.slice(0, 5)).toEqual([
      'A fid_ch one',
      'A fid_ch two',
      'A fid_ch three',
      'A fid_ch a',
      'A fid_ch b',
    ])
  })
})

describe('notifications to a failed transaction block', () => {
  it('delivers them when the block ends, before its ReadyForQuery', async () => {
    const [pg, glite] = await both(async (port, trace) => {
      const { c: listener } = await RawClient.login(port)
      await listener.query('LISTEN fid_f')
      trace.push(...(await listener.query('BEGIN; SELECT 1/0')).map(show))
      const { c: notifier } = await RawClient.login(port)
      await notifier.query("NOTIFY fid_f, 'later'")
      notifier.end()
      await new Promise((r) => setTimeout(r, 200))
      trace.push(...(await listener.query('ROLLBACK')).map(show))
      listener.end()
    })
    expect(glite).toEqual(pg)
    expect(glite.slice(-3)).toEqual(['C ROLLBACK.', 'A fid_f later', 'Z I'])
  })
})

describe('LISTEN in transactions', () => {
  it('takes LISTEN and UNLISTEN effect at commit only, as async.c does', async () => {
    const [pg, glite] = await both(async (port, trace) => {
      const { c: listener } = await RawClient.login(port)
      const { c: notifier } = await RawClient.login(port)
      await listener.query('LISTEN fid_a')
      await listener.query('BEGIN; UNLISTEN fid_a; ROLLBACK') // still listening
      await listener.query('BEGIN; LISTEN fid_b; ROLLBACK') // not listening
      await listener.query('BEGIN')
      await listener.query('LISTEN fid_c') // listening once the next input commits
      await listener.query('COMMIT')
      await notifier.query("NOTIFY fid_a, '1'; NOTIFY fid_b, '2'; NOTIFY fid_c, '3'")
      for (let i = 0; i < 2; i++) trace.push(show((await listener.next())!))
      trace.push(...(await listener.query('SELECT pg_listening_channels() ORDER BY 1')).map(show))
      listener.end()
      notifier.end()
    })
    expect(glite).toEqual(pg)
    expect(glite.slice(0, 2)).toEqual(['A fid_a 1', 'A fid_c 3'])
  })
})

describe('a generator abandoned by an error', () => {
  // psql may print the NOTICE first on PostgreSQL (both sends reach it in one read) and after the ERROR on
  // pyglite (two reads): the bytes are in the same order on both, which is what this holds.
  it("sends its finally's NOTICE after the query's ERROR, in and outside a transaction block", async () => {
    const [pg, glite] = await both(async (port, trace) => {
      const { c } = await RawClient.login(port)
      await c.query(`CREATE EXTENSION IF NOT EXISTS plpython3u;
        CREATE OR REPLACE FUNCTION fid_gfin(n int) RETURNS SETOF int LANGUAGE plpython3u AS $$
try:
    for i in range(n):
        yield i
finally:
    plpy.notice('finally %d' % n)
$$`)
      trace.push(...(await c.query('SELECT fid_gfin(5), 1/(2 - fid_gfin(5))')).map(show))
      trace.push(...(await c.query('BEGIN; SELECT fid_gfin(4), 1/(2 - fid_gfin(4))')).map(show))
      trace.push(...(await c.query('ROLLBACK; DROP FUNCTION fid_gfin(int)')).map(show))
      c.end()
    })
    expect(glite).toEqual(pg)
    expect(glite.filter((l) => /^[EN] /.test(l))).toEqual([
      'E ERROR 22012 division by zero',
      'N NOTICE 00000 finally 5',
      'E ERROR 22012 division by zero',
      'N NOTICE 00000 finally 4',
    ])
  })
})

describe('clients that go away', () => {
  it("runs a statement whose client closed while it waited for another session's transaction", async () => {
    const [pg, glite] = await both(async (port, trace) => {
      const { c: a } = await RawClient.login(port)
      await a.query('DROP TABLE IF EXISTS fid_gone; CREATE TABLE fid_gone(a int)')
      await a.query('BEGIN; SELECT 1')
      const { c: b } = await RawClient.login(port)
      b.write(query('INSERT INTO fid_gone VALUES (1)'))
      b.sock.end() // no Terminate, no waiting for the answer
      await new Promise((r) => setTimeout(r, 300))
      await a.query('COMMIT')
      await new Promise((r) => setTimeout(r, 300))
      trace.push(...(await a.query('SELECT count(*) FROM fid_gone')).map(show))
      a.end()
    })
    expect(glite).toEqual(pg)
    expect(glite).toContain('D ......1')
  })
})

describe('COPY FROM STDIN', () => {
  it('answers a Query sent during COPY as PostgreSQL does: ERROR and FATAL 08P01, nothing kept, others go on', async () => {
    const [pg, glite] = await both(async (port, trace) => {
      const { c: other } = await RawClient.login(port)
      const { c } = await RawClient.login(port)
      await c.query('DROP TABLE IF EXISTS fid_copy; CREATE TABLE fid_copy(a int, b text)')
      c.write(query('COPY fid_copy FROM STDIN'))
      trace.push(...(await c.until('G')).map(show))
      c.write(CopyData('1\tx\n2\ty\n'))
      c.write(query('SELECT 1')) // a separate write: it reaches the server while the COPY waits for data
      trace.push(...(await c.closedByServer()).map(show))
      // the other session is untouched; the COPY kept nothing
      trace.push(...(await other.query('SELECT count(*) FROM fid_copy')).map(show))
      other.end()
    })
    expect(glite).toEqual(pg)
    expect(glite).toContain(
      'E ERROR 08P01 unexpected message type 0x51 during COPY from stdin | COPY fid_copy, line 3',
    )
    expect(glite).toContain('E FATAL 08P01 terminating connection because protocol synchronization was lost')
    expect(glite.filter((l) => l.startsWith('D '))).toEqual(['D ......0'])
  })

  it('refuses the message even after CopyData in the same packet; CopyDone first makes it ordinary input', async () => {
    const [pg, glite] = await both(async (port, trace) => {
      const { c } = await RawClient.login(port)
      await c.query('DROP TABLE IF EXISTS fid_copy2; CREATE TABLE fid_copy2(a int)')
      // CopyDone then Query in one packet: both run
      c.write(query('COPY fid_copy2 FROM STDIN'))
      trace.push(...(await c.until('G')).map(show))
      c.write(Buffer.concat([CopyData('1\n'), message('c'), query('SELECT count(*) FROM fid_copy2')]))
      trace.push(...(await c.until('Z')).map(show), ...(await c.until('Z')).map(show))
      // CopyData then Describe in one packet: refused
      c.write(query('COPY fid_copy2 FROM STDIN'))
      trace.push(...(await c.until('G')).map(show))
      c.write(Buffer.concat([CopyData('2\n'), message('D', 'S\0')]))
      trace.push(...(await c.closedByServer()).map(show))
    })
    expect(glite).toEqual(pg)
    expect(glite).toContain(
      'E ERROR 08P01 unexpected message type 0x44 during COPY from stdin | COPY fid_copy2, line 2',
    )
    const { c } = await RawClient.login(srv.port)
    const rows = (await c.query('SELECT count(*) FROM fid_copy2')).filter((m) => m.type === 'D')
    expect(rows.map(show)).toEqual(['D ......1'])
    c.end()
  })

  it('refuses it in the same packet as the COPY command too, simple or extended protocol', async () => {
    const bind = message('B', Buffer.from('\0\0\0\0\0\0\0\0'))
    const execute = message('E', Buffer.from('\0\0\0\0\0'))
    const parse = (sql: string) => message('P', Buffer.from(`\0${sql}\0\0\0`))
    const [pg, glite] = await both(async (port, trace) => {
      const { c: other } = await RawClient.login(port)
      await other.query('DROP TABLE IF EXISTS fid_copy3; CREATE TABLE fid_copy3(a int)')
      // a named statement prepared earlier: its Execute starts the COPY in a batch that does not say so
      const { c: named } = await RawClient.login(port)
      named.write(
        Buffer.concat([message('P', Buffer.from('cs\0COPY fid_copy3 FROM STDIN\0\0\0')), message('S')]),
      )
      await named.until('Z')
      named.write(
        Buffer.concat([
          message('B', Buffer.from('\0cs\0\0\0\0\0\0\0')),
          execute,
          parse('SELECT 1'),
          message('S'),
        ]),
      )
      trace.push(...(await named.closedByServer()).map(show))
      for (const packet of [
        [query('COPY fid_copy3 FROM STDIN'), query('SELECT 1')],
        [parse('COPY fid_copy3 FROM STDIN'), bind, execute, CopyData('1\n'), parse('SELECT 1'), message('S')],
        // the Query's second COPY meets it after the first one's CopyDone
        [
          query('COPY fid_copy3 FROM STDIN; COPY fid_copy3 FROM STDIN'),
          CopyData('2\n'),
          message('c'),
          query('SELECT 1'),
        ],
      ]) {
        const { c } = await RawClient.login(port)
        c.write(Buffer.concat(packet))
        trace.push(...(await c.closedByServer()).map(show))
      }
      trace.push(...(await other.query('SELECT count(*) FROM fid_copy3')).map(show))
      other.end()
    })
    expect(glite).toEqual(pg)
    expect(glite.filter((l) => l.startsWith('E '))).toEqual([
      'E ERROR 08P01 unexpected message type 0x50 during COPY from stdin | COPY fid_copy3, line 1',
      'E FATAL 08P01 terminating connection because protocol synchronization was lost',
      'E ERROR 08P01 unexpected message type 0x51 during COPY from stdin | COPY fid_copy3, line 1',
      'E FATAL 08P01 terminating connection because protocol synchronization was lost',
      'E ERROR 08P01 unexpected message type 0x50 during COPY from stdin | COPY fid_copy3, line 2',
      'E FATAL 08P01 terminating connection because protocol synchronization was lost',
      'E ERROR 08P01 unexpected message type 0x51 during COPY from stdin | COPY fid_copy3, line 1',
      'E FATAL 08P01 terminating connection because protocol synchronization was lost',
    ])
    expect(srv.output()).not.toContain('reopened the database')
  })
})

describe('CREATE/DROP DATABASE in extended-protocol batches', () => {
  const parse = (sql: string) => message('P', Buffer.from(`\0${sql}\0\0\0`))
  const bind = message('B', Buffer.from('\0\0\0\0\0\0\0\0'))
  const execute = message('E', Buffer.from('\0\0\0\0\0'))
  const sync = message('S')

  it('answers the statements after the command in the same batch (was: each Execute ran the command again)', async () => {
    const [pg, glite] = await both(async (port, trace) => {
      const { c } = await RawClient.login(port)
      await c.query('DROP DATABASE IF EXISTS fid_db1')
      c.write(
        Buffer.concat([
          parse('CREATE DATABASE fid_db1'),
          bind,
          execute,
          parse('SELECT 1'),
          bind,
          execute,
          sync,
        ]),
      )
      trace.push(...(await c.until('Z')).map(show))
      c.write(
        Buffer.concat([
          parse('DROP DATABASE fid_db1'),
          bind,
          execute,
          parse('SELECT 2'),
          bind,
          execute,
          sync,
        ]),
      )
      trace.push(...(await c.until('Z')).map(show))
      c.end()
    })
    expect(glite).toEqual(pg)
    expect(glite.filter((l) => /^[CDE] /.test(l))).toEqual([
      'C CREATE DATABASE.',
      'D ......1',
      'C SELECT 1.',
      'C DROP DATABASE.',
      'D ......2',
      'C SELECT 1.',
    ])
  })

  it('after a Parse and Bind of the same batch: runs it as PostgreSQL does (was: the database wedged); after its error, skips to Sync', async () => {
    const [pg, glite] = await both(async (port, trace) => {
      const { c } = await RawClient.login(port)
      await c.query('DROP DATABASE IF EXISTS fid_db3')
      const bindP = message('B', Buffer.from('p\0a\0\0\0\0\0\0\0'))
      c.write(Buffer.concat([message('P', Buffer.from('a\0SELECT 1\0\0\0')), bindP]))
      c.write(Buffer.concat([parse('CREATE DATABASE fid_db3'), bind, execute, sync]))
      trace.push(...(await c.until('Z')).map(show))
      // the command's commit ended the batch's transaction: portal p is gone, as in PostgreSQL
      c.write(Buffer.concat([message('E', Buffer.from('p\0\0\0\0\0')), sync]))
      trace.push(...(await c.until('Z')).map(show))
      // a command that fails: the rest of its batch is skipped until Sync
      c.write(
        Buffer.concat([
          parse('DROP DATABASE fid_db_nope'),
          bind,
          execute,
          parse('SELECT 1'),
          bind,
          execute,
          sync,
        ]),
      )
      trace.push(...(await c.until('Z')).map(show))
      trace.push(...(await c.query('DROP DATABASE fid_db3')).map(show))
      c.end()
    })
    expect(glite).toEqual(pg)
    expect(glite.filter((l) => /^[CDE] /.test(l))).toEqual([
      'C CREATE DATABASE.',
      'E ERROR 34000 portal "p" does not exist',
      'E ERROR 3D000 database "fid_db_nope" does not exist',
      'C DROP DATABASE.',
    ])
  })

  it('refuses the command after an Execute of the same batch (25001) without holding up other sessions', async () => {
    const { c } = await RawClient.login(srv.port)
    c.write(
      Buffer.concat([
        parse('SELECT 1'),
        bind,
        execute,
        parse('CREATE DATABASE fid_db2'),
        bind,
        execute,
        sync,
      ]),
    )
    const msgs = await c.until('Z')
    // PostgreSQL 18 (postgres.c XACT_FLAGS_PIPELINING: an implicit transaction block; 15 says "within a pipeline")
    expect(msgs.map(show).filter((l) => l.startsWith('E '))).toEqual([
      'E ERROR 25001 CREATE DATABASE cannot run inside a transaction block',
    ])
    const { c: other } = await RawClient.login(srv.port)
    expect((await other.query('SELECT 3')).map(show)).toContain('D ......3')
    expect((await c.query("SELECT count(*) FROM pg_database WHERE datname = 'fid_db2'")).map(show)).toContain(
      'D ......0',
    )
    c.end()
    other.end()
  })
})

describe('cancel', () => {
  it("words a cancel of a COPY FROM STDIN that waits for data as PostgreSQL's cancel error, with the COPY's context", async () => {
    const { c, startup } = await RawClient.login(srv.port)
    const k = startup.find((m) => m.type === 'K')!.body
    await c.query('CREATE TABLE fid_cancel(a int)')
    c.write(query('COPY fid_cancel FROM STDIN'))
    await c.until('G')
    c.write(CopyData('1\n2\n'))
    await new Promise((r) => setTimeout(r, 200))
    const x = await RawClient.connect(srv.port)
    x.write(cancelPacket(k.readInt32BE(0), k.readInt32BE(4)))
    const msgs = await c.until('Z')
    // PostgreSQL notices the cancel when the next data arrives (postgres.c ProcessInterrupts); pyglite at once
    expect(msgs.map(show)).toEqual([
      'E ERROR 57014 canceling statement due to user request | COPY fid_cancel, line 3',
      'Z I',
    ])
    expect((await c.query('SELECT count(*) FROM fid_cancel')).map(show)).toContain('D ......0')
    c.end()
  })
})

describe('start-up', () => {
  const request = (code: number) => {
    const b = Buffer.alloc(8)
    b.writeInt32BE(8, 0)
    b.writeInt32BE(code, 4)
    return b
  }

  it('refuses a StartupMessage sent with the SSLRequest or GSSENCRequest, before its answer (backend_startup.c)', async () => {
    for (const [code, what] of [
      [80877103, 'SSL request'],
      [80877104, 'GSSAPI encryption request'],
    ] as const) {
      const c = await RawClient.connect(srv.port)
      c.write(Buffer.concat([request(code), startupPacket({ user: 'postgres' })]))
      expect((await c.bytes(1)).toString()).toBe('N')
      const msgs = await c.closedByServer()
      expect(msgs.map((m) => m.type)).toEqual(['E'])
      expect(fields(msgs[0]!.body)).toMatchObject({
        S: 'FATAL',
        C: '08P01',
        M: `received unencrypted data after ${what}`,
        D: 'This could be either a client-software bug or evidence of an attempted man-in-the-middle attack.',
      })
    }
    // waiting for the answer first is the normal way
    const c = await RawClient.connect(srv.port)
    c.write(request(80877103))
    expect((await c.bytes(1)).toString()).toBe('N')
    c.write(startupPacket({ user: 'postgres' }))
    expect((await c.until('Z')).at(-1)!.body.toString()).toBe('I')
    c.end()
  })

  it('reports a bad options switch after AuthenticationOk, as InitPostgres does', async () => {
    const [pg, glite] = await both(async (port, trace) => {
      for (const options of ['-c', '-c work_mem', '-x']) {
        const c = await RawClient.connect(port)
        c.write(startupPacket({ user: 'postgres', options }))
        trace.push(...(await c.closedByServer()).map(show))
      }
      // a role that does not exist is reported first (InitializeSessionUserId comes before the options)
      const c = await RawClient.connect(port)
      c.write(startupPacket({ user: 'fid_nobody', options: '-c' }))
      trace.push(...(await c.closedByServer()).map(show))
    })
    expect(glite).toEqual(pg)
    expect(glite.filter((l) => l.startsWith('R '))).toHaveLength(4)
    expect(glite).toContain('E FATAL 42601 -c work_mem requires a value')
    expect(glite).toContain('E FATAL 28000 role "fid_nobody" does not exist')
  })
})
