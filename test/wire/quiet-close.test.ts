// Quiet where PostgreSQL is quiet: a client that connects and ends at once, at any point of the start-up
// (pool health checks, port scanners, node-postgres' connect() then end()), gets no error message and leaves
// nothing above debug level in the server's log (backend_startup.c: no data at all is not worth a word, a
// bad length word is a COMMERROR: logged by PostgreSQL at LOG, never sent). Checked against PostgreSQL 15.
import net from 'node:net'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startupPacket } from '../helpers/raw.js'
import { startServer, type TestServer } from '../helpers/server.js'

let srv: TestServer
beforeAll(async () => {
  srv = await startServer({ args: ['--auth', 'scram-sha-256', '--password', 'quiet-pw'] })
})
afterAll(async () => {
  await srv?.stop()
})

/** Connect, write `bytes` (possibly nothing), optionally wait for the server's first answer, then close. */
async function touch(bytes: Buffer, waitForAnswer: boolean): Promise<Buffer> {
  const s = net.connect(srv.port, srv.host)
  const got: Buffer[] = []
  s.on('data', (d) => got.push(d))
  s.on('error', () => {})
  await new Promise((r) => s.once('connect', r))
  if (bytes.length) s.write(bytes)
  if (waitForAnswer) await new Promise((r) => s.once('data', r))
  s.destroy()
  await new Promise((r) => s.once('close', r))
  return Buffer.concat(got)
}

const sslRequest = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
const terminate = Buffer.from([0x58, 0, 0, 0, 4])
const startup = startupPacket({ user: 'postgres', database: 'postgres' })

describe('connect and close at once', () => {
  it('node-postgres connect() then end() right away: no server error reaches the client or the log', async () => {
    const mark = srv.output().length
    const messages: string[] = []
    for (let i = 0; i < 20; i++) {
      const c = new pg.Client({ host: srv.host, port: srv.port, user: 'postgres', password: 'quiet-pw' })
      c.on('error', (e) => messages.push(e.message))
      // (node-postgres leaves this promise unsettled when end() comes first, with PostgreSQL too)
      c.connect().catch((e: Error) => messages.push(e.message))
      await c.end()
    }
    expect(messages).toEqual([])
    const c = new pg.Client({ host: srv.host, port: srv.port, user: 'postgres', password: 'quiet-pw' })
    await c.connect()
    expect((await c.query('SELECT 1 AS x')).rows).toEqual([{ x: 1 }])
    await c.end()
    expect(srv.output().slice(mark)).not.toMatch(/"level":(40|50|60)/)
  })

  it('a storm of closes at every point of the start-up leaves no error in the log, and the server serves', async () => {
    const mark = srv.output().length
    const answers: Array<[string, Buffer]> = []
    for (let round = 0; round < 10; round++) {
      answers.push(['nothing', await touch(Buffer.alloc(0), false)])
      answers.push(['half a length word', await touch(Buffer.from([0, 0]), false)])
      answers.push(['Terminate as the first bytes', await touch(terminate, false)])
      answers.push(['half a startup packet', await touch(startup.subarray(0, startup.length - 3), false)])
      // the server answers these; the client leaves before going on
      answers.push(['after SSLRequest', await touch(sslRequest, true)])
      answers.push(['during authentication', await touch(startup, true)])
      answers.push([
        'Terminate during authentication',
        await touch(Buffer.concat([startup, terminate]), false),
      ])
    }
    for (const [what, got] of answers) {
      if (what === 'after SSLRequest') expect(got.toString('latin1'), what).toBe('N')
      else if (what === 'during authentication')
        expect(got[0], what).toBe(0x52) // AuthenticationSASL
      else if (what === 'Terminate during authentication') expect(got.includes(0x45), what).toBe(false)
      else expect(got.length, what).toBe(0)
    }
    const c = new pg.Client({ host: srv.host, port: srv.port, user: 'postgres', password: 'quiet-pw' })
    await c.connect()
    expect((await c.query('SELECT 6 * 7 AS x')).rows).toEqual([{ x: 42 }])
    await c.end()
    const logged = srv
      .output()
      .slice(mark)
      .split('\n')
      .filter((l) => /"level":(40|50|60)/.test(l))
    expect(logged).toEqual([])
  })
})
