// Framing of the client's byte stream (src/wire/framing.ts) and parsing of start-up packets
// (src/wire/startup.ts): every split of the input yields the same messages; bad headers are caught before
// their body arrives.
import { describe, expect, it } from 'vitest'
import { MessageBuffer } from '../../src/wire/framing.js'
import { parseOptions, parseStartupPacket, type StartupError } from '../../src/wire/startup.js'
import { message, query, startupPacket } from '../helpers/raw.js'

const stream = Buffer.concat([
  query('SELECT 1'),
  message('P', Buffer.from('s1\0SELECT $1::int\0\0\0')),
  message('B', Buffer.from('\0s1\0\0\0\0\x01\0\0\0\x0142\0\0')),
  message('E', Buffer.from('\0\0\0\0\0')),
  message('S'),
  message('d', Buffer.alloc(70_000, 0x61)), // larger than the initial buffer: it must grow
  message('c'),
  query('SELECT 2'),
])

/** Feed `chunks` and collect every batch's bytes. */
function feed(chunks: Buffer[]): { data: Buffer; terminate: boolean } {
  const mb = new MessageBuffer(64)
  const out: Buffer[] = []
  let terminate = false
  for (const c of chunks) {
    mb.push(c)
    const b = mb.takeMessages()
    if (b.violation) throw b.violation
    if (b.data) out.push(Buffer.from(b.data))
    terminate ||= b.terminate
  }
  return { data: Buffer.concat(out), terminate }
}

describe('MessageBuffer', () => {
  it('yields the same complete messages whatever the split (every offset, one and two cuts)', () => {
    expect(feed([stream]).data.equals(stream)).toBe(true)
    for (let i = 0; i <= stream.length; i += i < 300 || i > stream.length - 300 ? 1 : 997) {
      const r = feed([stream.subarray(0, i), stream.subarray(i)])
      expect(r.data.equals(stream), `split at ${i}`).toBe(true)
    }
    for (let i = 1; i < 60; i++)
      for (let j = i; j < 120; j++) {
        const r = feed([stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)])
        expect(r.data.equals(stream), `splits at ${i}, ${j}`).toBe(true)
      }
  })

  it('keeps an incomplete message until its last byte arrives', () => {
    const mb = new MessageBuffer()
    const q = query('SELECT 42')
    mb.push(q.subarray(0, q.length - 1))
    expect(mb.takeMessages().data).toBeNull()
    mb.push(q.subarray(q.length - 1))
    expect(Buffer.from(mb.takeMessages().data!).equals(q)).toBe(true)
    expect(mb.length).toBe(0)
  })

  it('stops at Terminate and passes the messages before it', () => {
    const mb = new MessageBuffer()
    mb.push(Buffer.concat([query('SELECT 1'), message('X'), query('SELECT 2')]))
    const b = mb.takeMessages()
    expect(Buffer.from(b.data!).equals(query('SELECT 1'))).toBe(true)
    expect(b.terminate).toBe(true)
  })

  it('rejects an unknown message type as soon as its header arrives, after the valid messages before it', () => {
    const mb = new MessageBuffer()
    mb.push(Buffer.concat([query('SELECT 1'), Buffer.from([0x21, 0, 0, 0, 4])]))
    const b = mb.takeMessages()
    expect(Buffer.from(b.data!).equals(query('SELECT 1'))).toBe(true)
    expect(b.violation?.message).toBe('invalid frontend message type 33')
    expect(b.violation?.code).toBe('08P01')
  })

  it('rejects lengths over the per-type limit before buffering the body (postgres.c limits)', () => {
    const mb = new MessageBuffer()
    const sync = Buffer.from([0x53, 0, 0, 0x4e, 0x21]) // Sync claiming 20001 bytes: small-message limit is 10000
    mb.push(sync)
    expect(mb.takeMessages().violation?.message).toBe('invalid message length')
    const mb2 = new MessageBuffer()
    mb2.push(Buffer.from([0x51, 0, 0, 0, 3])) // a length below 4
    expect(mb2.takeMessages().violation?.message).toBe('invalid message length')
    const mb3 = new MessageBuffer()
    mb3.push(Buffer.from([0x51, 0x40, 0, 0, 0])) // Query of 1 GiB: over PQ_LARGE_MESSAGE_LIMIT
    expect(mb3.takeMessages().violation?.message).toBe('invalid message length')
  })

  it('frames start-up packets and refuses absurd lengths', () => {
    const mb = new MessageBuffer()
    const p = startupPacket({ user: 'u' })
    mb.push(p.subarray(0, 3))
    expect(mb.nextStartupPacket()).toBeNull()
    mb.push(p.subarray(3))
    expect(Buffer.from(mb.nextStartupPacket()!).equals(p)).toBe(true)
    const bad = new MessageBuffer()
    bad.push(Buffer.from([0, 1, 0, 0, 0, 3, 0, 0]))
    expect(() => bad.nextStartupPacket()).toThrow('invalid length of startup packet')
  })
})

describe('start-up packets', () => {
  it('parses user, database (default: the user), options and settings in PostgreSQL order', () => {
    const r = parseStartupPacket(
      startupPacket({ user: 'alice', options: '-c search_path=x --statement-timeout=5s', DateStyle: 'ISO' }),
    )
    expect(r).toEqual({
      kind: 'startup',
      params: {
        user: 'alice',
        database: 'alice',
        settings: [
          ['search_path', 'x'],
          ['statement_timeout', '5s'],
          ['DateStyle', 'ISO'],
        ],
        minor: 0,
        protocolOptions: [],
      },
    })
  })

  it('recognizes SSLRequest, GSSENCRequest, CancelRequest and protocol 3.2 with options', () => {
    const req = (code: number, extra: number[] = []) => {
      const b = Buffer.alloc(8 + 4 * extra.length)
      b.writeInt32BE(b.length, 0)
      b.writeInt32BE(code, 4)
      extra.forEach((v, i) => {
        b.writeInt32BE(v, 8 + 4 * i)
      })
      return b
    }
    expect(parseStartupPacket(req(80877103))).toEqual({ kind: 'ssl' })
    expect(parseStartupPacket(req(80877104))).toEqual({ kind: 'gssenc' })
    expect(parseStartupPacket(req(80877102, [7, -5]))).toEqual({ kind: 'cancel', pid: 7, secret: -5 })
    const v32 = parseStartupPacket(startupPacket({ user: 'u', '_pq_.x': '1' }, (3 << 16) | 2))
    expect(v32.kind === 'startup' && v32.params.minor).toBe(2)
    expect(v32.kind === 'startup' && v32.params.protocolOptions).toEqual(['_pq_.x'])
  })

  it('refuses protocol 2, a missing user, and a packet without its terminator', () => {
    expect(() => parseStartupPacket(startupPacket({ user: 'u' }, 2 << 16))).toThrow(
      'unsupported frontend protocol 2.0: server supports 3.0 to 3.0',
    )
    const noUser = (() => {
      try {
        parseStartupPacket(startupPacket({ database: 'x' }))
      } catch (e) {
        return e
      }
    })() as StartupError
    expect(noUser.code).toBe('28000')
    expect(noUser.message).toBe('no PostgreSQL user name specified in startup packet')
    const p = startupPacket({ user: 'u' })
    expect(() => parseStartupPacket(p.subarray(0, p.length - 1))).toThrow('expected terminator as last byte')
  })

  it('splits options like pg_split_opts (backslash escapes) and rejects other switches', () => {
    expect(parseOptions('-c a=b\\ c   -cd=e')).toEqual([
      ['a', 'b c'],
      ['d', 'e'],
    ])
    expect(() => parseOptions('-B 100')).toThrow('invalid command-line argument for server process: -B')
    expect(() => parseOptions('-c nothing')).toThrow('-c nothing requires a value')
  })
})
