// The protocol fuzzer: random start-up garbage, mutated start-up packets, corrupted headers and mutated
// valid message sequences (bit flips, truncation, invalid UTF-8, extreme counts and lengths), one
// connection at a time, while a bystander connection keeps writing and checking its own data. The server
// must never crash or hang; a framing violation ends that connection with FATAL 08P01 (after the messages
// before it ran); a well-framed but invalid message gets PostgreSQL's ERROR and the connection goes on.
// Fixed seed (PYGLITE_FUZZ_SEED), about 45 s by default; PYGLITE_FUZZ_SECONDS=600 for a longer run.
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fields, type Msg, RawClient, rows, startupPacket } from '../helpers/raw.js'
import { startServer, type TestServer } from '../helpers/server.js'
import {
  Bind,
  corpus,
  Execute,
  encode,
  framing,
  mutateBody,
  Parse,
  prng,
  Q,
  type Rng,
  Sync,
} from './fuzzgen.js'

const SEED = Number(process.env.PYGLITE_FUZZ_SEED ?? 20261123)
const SECONDS = Number(process.env.PYGLITE_FUZZ_SECONDS ?? 45)
/** SQLSTATEs a mangled start-up packet may legitimately end with (postmaster.c ProcessStartupPacket, InitPostgres). */
const STARTUP_FATAL = new Set([
  '08P01',
  '0A000',
  '28000',
  '3D000',
  '42704',
  '22023',
  '42501',
  '08006',
  '22021',
])

let srv: TestServer
/** How the cases ended (printed at the end, and checked: every kind of outcome must occur). */
const seen: Record<string, number> = {}
const saw = (k: string) => {
  seen[k] = (seen[k] ?? 0) + 1
}
beforeAll(async () => {
  srv = await startServer()
  const c = new pg.Client({ connectionString: srv.url() })
  await c.connect()
  await c.query(`CREATE FUNCTION fz_double(x int) RETURNS int LANGUAGE plpython3u AS 'return x * 2';
    CREATE TABLE fz_sink(n int, src text); CREATE TABLE ledger(n int PRIMARY KEY, v text)`)
  await c.end()
})
afterAll(async () => {
  await srv?.stop()
})

interface Outcome {
  msgs: Msg[]
  closed: boolean
}

/** Read until the server closes, `done` says so, or `ms` pass. */
async function collect(c: RawClient, ms: number, done: (m: Msg) => boolean = () => false): Promise<Outcome> {
  const msgs: Msg[] = []
  const deadline = Date.now() + ms
  for (;;) {
    let m: Msg | null
    try {
      m = await c.next(Math.max(1, deadline - Date.now()))
    } catch {
      return { msgs, closed: false } // timed out
    }
    if (!m) return { msgs, closed: true }
    msgs.push(m)
    if (done(m)) return { msgs, closed: false }
  }
}

const errors = (msgs: Msg[]) => msgs.filter((m) => m.type === 'E').map((m) => fields(m.body))
const hex = (b: Buffer) =>
  b.length > 160 ? `${b.subarray(0, 160).toString('hex')}… (${b.length} bytes)` : b.toString('hex')

/** One logged-in case: send `stream`, then what the framing needs, then a probe. Returns a problem or null. */
async function loggedInCase(r: Rng, i: number, stream: Buffer): Promise<string | null> {
  const { c } = await RawClient.login(srv.port)
  try {
    let sent = stream
    c.write(stream)
    let f = framing(sent)
    for (let k = 0; f.kind === 'partial' && k < 3; k++) {
      if (f.need > 1 << 20) break // a huge declared length: the server waits for the body
      const fill = Buffer.alloc(f.need)
      c.write(fill)
      sent = Buffer.concat([sent, fill])
      f = framing(sent)
    }
    if (f.kind === 'partial') {
      // the server is waiting for a body we will never send: it must still serve others; we hang up
      c.sock.destroy()
      saw('abandoned mid-message')
      return null
    }
    saw(f.kind === 'ok' ? 'well-framed' : f.kind)
    if (f.kind === 'violation' || f.kind === 'terminate') {
      const o = await collect(c, 20_000)
      if (!o.closed) return `${f.kind}: the server did not close the connection`
      const errs = errors(o.msgs)
      const fatals = errs.filter((e) => e.S === 'FATAL')
      if (f.kind === 'terminate')
        return fatals.length ? `terminate: unexpected FATAL ${JSON.stringify(fatals)}` : null
      const last = errs.at(-1)
      if (fatals.length !== 1 || last?.S !== 'FATAL' || last.C !== '08P01' || last.M !== f.message)
        return `violation: expected one FATAL 08P01 "${f.message}" last, got ${JSON.stringify(errs)}`
      return null
    }
    const nonce = `probe-${SEED}-${i}-${r.int(1e9)}`
    c.write(encode([Sync, Q('ROLLBACK'), Q(`SELECT '${nonce}'`)]))
    let got = false
    const o = await collect(c, 30_000, (m) => {
      if (m.type === 'D' && rows([m])[0]?.[0] === nonce) got = true
      return got && m.type === 'Z'
    })
    const errs = errors(o.msgs)
    // XX000 itself is allowed: PostgreSQL 15 answers a Parse naming a type OID that does not exist with
    // XX000 "cache lookup failed for type N" too; pyglite's own internal errors are not
    const bad = errs.filter(
      (e) => e.S !== 'ERROR' || !/^[0-9A-Z]{5}$/.test(e.C ?? '') || /^internal error/.test(e.M ?? ''),
    )
    if (bad.length) return `unexpected error response ${JSON.stringify(bad)}`
    if (errs.length) saw('ERROR, connection kept')
    if (!got) return `no answer to the probe (closed: ${o.closed}); got ${o.msgs.map((m) => m.type).join('')}`
    return null
  } finally {
    c.sock.destroy()
  }
}

/** Start-up garbage: whatever happens, any error is a FATAL with a start-up SQLSTATE; a login still works. */
async function startupCase(i: number, bytes: Buffer): Promise<string | null> {
  const c = await RawClient.connect(srv.port)
  try {
    c.write(bytes)
    const o = await collect(c, 1500, (m) => m.type === 'Z')
    const errs = errors(o.msgs)
    saw(errs.length ? `start-up FATAL ${errs[0]?.C}` : o.closed ? 'start-up closed' : 'start-up waiting')
    for (const e of errs)
      if (e.S !== 'FATAL' || !STARTUP_FATAL.has(e.C ?? '')) return `start-up: unexpected ${JSON.stringify(e)}`
    if (o.msgs.some((m) => m.type === 'Z') && !o.closed) {
      saw('start-up logged in')
      const nonce = `startup-probe-${i}`
      c.write(encode([Q(`SELECT '${nonce}'`)]))
      const p = await collect(c, 20_000, (m) => m.type === 'Z')
      if (!rows(p.msgs).some((row) => row[0] === nonce)) return 'start-up: logged in but the probe failed'
    }
    return null
  } finally {
    c.sock.destroy()
  }
}

function startupBytes(r: Rng): Buffer {
  const good = startupPacket({ user: 'postgres', database: 'postgres', application_name: `fz${r.int(100)}` })
  switch (r.int(5)) {
    case 0:
      return r.bytes(1 + r.int(64))
    case 1: {
      const b = Buffer.from(good)
      for (let k = 0; k < 1 + r.int(3); k++) b[4 + r.int(b.length - 4)] = r.int(256) // keep the length
      return b
    }
    case 2: {
      const b = Buffer.from(good)
      b.writeInt32BE(r.pick([0, 3, 7, 10001, 0x7fffffff, -1, b.length + 1 + r.int(50)]), 0)
      return b
    }
    case 3: {
      const b = Buffer.from(good)
      b.writeInt32BE(r.pick([0x00020000, 0x00040000, 0x04d2162e, 0x04d21630, r.int(2 ** 31)]), 4)
      return b
    }
    default:
      return Buffer.concat([Buffer.from([0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f]), r.bytes(r.int(40))]) // SSLRequest + junk
  }
}

function messageStream(r: Rng): Buffer {
  const seq = corpus(r)
  for (let k = 0, n = 1 + r.int(2); k < n; k++) {
    const at = r.int(seq.length)
    const m = seq[at]!
    // never mutate a FunctionCall's function OID: a random OID could call anything
    const body =
      m.type === 'F'
        ? Buffer.concat([m.body.subarray(0, 4), mutateBody(r, m.body.subarray(4))])
        : mutateBody(r, m.body)
    seq[at] = { type: m.type, body }
  }
  const bytes = encode(seq)
  if (r.chance(0.15)) {
    // corrupt one header: its type or its length
    const offsets: number[] = []
    for (let o = 0; o < bytes.length; o += 1 + bytes.readInt32BE(o + 1)) offsets.push(o)
    const o = r.pick(offsets)
    if (r.chance(0.3)) bytes[o] = r.int(256)
    else
      bytes.writeInt32BE(
        r.chance(0.2)
          ? r.pick([0, 3, -1, 0x7fffffff, 0x40000000])
          : bytes.readInt32BE(o + 1) + r.int(21) - 10,
        o + 1,
      )
  }
  return bytes
}

describe('protocol fuzzer', () => {
  it(
    `survives ${SECONDS} s of hostile connections (seed ${SEED}) while a bystander works`,
    async () => {
      const r = prng(SEED)
      const bystander = new pg.Client({ connectionString: srv.url() })
      await bystander.connect()
      let stop = false
      let written = 0
      const bystanderErrors: string[] = []
      const bystanderLoop = (async () => {
        while (!stop) {
          try {
            written++
            await bystander.query('INSERT INTO ledger VALUES ($1, $2)', [written, `v${written}`])
            const res = await bystander.query(
              'SELECT count(*)::int AS n, sum(n)::int8 AS s, fz_double($1) AS d FROM ledger',
              [written],
            )
            const { n, s, d } = res.rows[0]
            if (n !== written || Number(s) !== (written * (written + 1)) / 2 || d !== written * 2)
              bystanderErrors.push(`after ${written} writes: n=${n} s=${s} d=${d}`)
          } catch (e) {
            bystanderErrors.push((e as Error).message)
          }
          await new Promise((res) => setTimeout(res, 20))
        }
      })()
      const problems: string[] = []
      const counts: Record<string, number> = { startup: 0, messages: 0 }
      const end = Date.now() + SECONDS * 1000
      for (let i = 0; Date.now() < end && problems.length < 5; i++) {
        const kind = r.chance(0.25) ? 'startup' : 'messages'
        counts[kind] = (counts[kind] ?? 0) + 1
        const bytes = kind === 'startup' ? startupBytes(r) : messageStream(r)
        const problem = kind === 'startup' ? await startupCase(i, bytes) : await loggedInCase(r, i, bytes)
        if (problem) problems.push(`case ${i} (${kind}, seed ${SEED}): ${problem}\n  bytes: ${hex(bytes)}`)
        if (srv.proc.exitCode !== null || srv.proc.signalCode) {
          problems.push(`case ${i}: the server died\n  bytes: ${hex(bytes)}`)
          break
        }
      }
      stop = true
      await bystanderLoop
      expect(problems).toEqual([])
      expect(bystanderErrors).toEqual([])
      expect((await bystander.query('SELECT count(*)::int AS n FROM ledger')).rows[0].n).toBe(written)
      await bystander.end()
      expect(counts.messages).toBeGreaterThan(20)
      for (const k of ['violation', 'well-framed', 'ERROR, connection kept', 'start-up FATAL 08P01'])
        expect(seen[k], k).toBeGreaterThan(0)
      expect(srv.output()).not.toMatch(/internal error|Uncaught|unhandled/i)
      process.stdout.write(
        `fuzz: ${JSON.stringify(counts)} cases, ${written} bystander transactions\n${JSON.stringify(seen)}\n`,
      )
    },
    (SECONDS + 120) * 1000,
  )
})

describe('hostile protocol input, case by case', () => {
  const login = async () => (await RawClient.login(srv.port)).c
  const errOf = (msgs: Msg[]) => errors(msgs)[0]

  it('invalid UTF-8 in a query, a Parse and a text parameter: ERROR 22021, the connection goes on', async () => {
    const c = await login()
    c.write(encode([Q(Buffer.from([...Buffer.from("SELECT 'a"), 0xff, 0x27]))]))
    const e1 = errOf(await c.until('Z'))
    expect([e1?.S, e1?.C, e1?.M]).toEqual([
      'ERROR',
      '22021',
      'invalid byte sequence for encoding "UTF8": 0xff',
    ])
    c.write(encode([Parse('', Buffer.from([...Buffer.from("SELECT 'b"), 0xc3, 0x28, 0x27])), Sync]))
    const e2 = errOf(await c.until('Z'))
    expect([e2?.C, e2?.M]).toEqual(['22021', 'invalid byte sequence for encoding "UTF8": 0xc3 0x28'])
    c.write(
      encode([
        Parse('', 'SELECT $1::text', [25]),
        Bind('', '', [Buffer.from([0x61, 0xed, 0xa0, 0x80])]),
        Execute(''),
        Sync,
      ]),
    )
    const e3 = errOf(await c.until('Z'))
    expect([e3?.C, e3?.M]).toEqual(['22021', 'invalid byte sequence for encoding "UTF8": 0xed 0xa0 0x80'])
    expect(rows(await c.query("SELECT 'still here'"))).toEqual([['still here']])
    c.end()
  })

  it('65535 parameters: Parse with 65535 types, Bind with 65535 values; a count mismatch is ERROR 08P01', async () => {
    const c = await login()
    const n = 65535
    const types = Array.from({ length: n }, () => 23)
    c.write(encode([Parse('many', `SELECT $1::int + $${n}::int AS s, $${n - 1}::int AS t`, types), Sync]))
    expect(errors(await c.until('Z'))).toEqual([])
    const values = Array.from({ length: n }, (_, i) => String(i + 1))
    c.write(encode([Bind('', 'many', values), Execute(''), Sync]))
    expect(rows(await c.until('Z'))).toEqual([[String(1 + n), String(n - 1)]])
    // all NULL, with text parameters of an unnamed statement that does not declare them
    c.write(
      encode([Parse('', 'SELECT $1::int IS NULL', []), Bind('', '', Array(n).fill(null)), Execute(''), Sync]),
    )
    const e = errOf(await c.until('Z'))
    expect([e?.S, e?.C, e?.M]).toEqual([
      'ERROR',
      '08P01',
      `bind message supplies ${n} parameters, but prepared statement "" requires 1`,
    ])
    // a Bind that claims 65535 parameters and carries none
    const lying = Bind('', 'many', [])
    lying.body.writeUInt16BE(n, 'many'.length + 1 + 1 + 2)
    c.write(encode([lying, Execute(''), Sync]))
    const e2 = errOf(await c.until('Z'))
    expect([e2?.S, e2?.C]).toEqual(['ERROR', '08P01'])
    expect(e2?.M).toMatch(
      /^insufficient data left in message$|^bind message has \d+ parameter formats but 0 parameters$/,
    )
    expect(rows(await c.query('SELECT 1'))).toEqual([['1']])
    c.end()
  })

  it('an unknown message type or an absurd length: FATAL 08P01 after the messages before it ran', async () => {
    for (const [bad, msg] of [
      [Buffer.from([0x21, 0, 0, 0, 4]), 'invalid frontend message type 33'],
      [Buffer.from([0x51, 0x7f, 0xff, 0xff, 0xff]), 'invalid message length'], // Query of 2 GiB
      [Buffer.from([0x53, 0, 0, 0x27, 0x15]), 'invalid message length'], // Sync of 10005 bytes
      [Buffer.from([0x51, 0, 0, 0, 2]), 'invalid message length'],
    ] as const) {
      const c = await login()
      c.write(Buffer.concat([encode([Q(`INSERT INTO fz_sink VALUES (-1, '${msg}')`)]), bad]))
      const got = await c.closedByServer()
      const errs = errors(got)
      expect(errs).toEqual([expect.objectContaining({ S: 'FATAL', C: '08P01', M: msg })])
      expect(got.some((m) => m.type === 'C')).toBe(true) // the INSERT before it ran
    }
    const c = await login()
    expect(rows(await c.query(`SELECT count(*) FROM fz_sink WHERE n = -1`))).toEqual([['4']])
    c.end()
  })

  it('a Query declaring almost 1 GiB, then hanging up: the buffered bytes go with the connection', async () => {
    const c = await login()
    const header = Buffer.from([0x51, 0x3f, 0xff, 0xff, 0xf0])
    c.write(Buffer.concat([header, Buffer.alloc(4 << 20, 0x61)])) // 4 MiB of the body, then gone
    await new Promise((r) => setTimeout(r, 300))
    c.sock.destroy()
    const k = await login()
    expect(rows(await k.query('SELECT 42'))).toEqual([['42']])
    k.end()
    expect(srv.proc.exitCode).toBe(null)
  })

  it('start-up garbage with a bad length word: closed without a word, as the postmaster does (COMMERROR)', async () => {
    // checked against PostgreSQL 15: nothing is sent, its log says "invalid length of startup packet"
    for (const bytes of [
      [0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0],
      [0, 0, 0, 3],
      [0x58, 0, 0, 0, 4],
    ]) {
      const c = await RawClient.connect(srv.port)
      c.write(Buffer.from(bytes))
      expect(await c.closedByServer(), JSON.stringify(bytes)).toEqual([])
    }
  })

  it('start-up garbage: FATAL 0A000, as the postmaster answers', async () => {
    const cases: Array<[Buffer, string, string]> = [
      [
        startupPacket({ user: 'postgres' }, 0x00020000),
        '0A000',
        'unsupported frontend protocol 2.0: server supports 3.0 to 3.0',
      ],
      [
        startupPacket({ user: 'postgres' }, 0x04d21630),
        '0A000',
        'unsupported frontend protocol 1234.5680: server supports 3.0 to 3.0',
      ],
    ]
    for (const [bytes, code, message] of cases) {
      const c = await RawClient.connect(srv.port)
      c.write(bytes)
      const errs = errors(await c.closedByServer())
      expect(
        errs.map((e) => [e.S, e.C, e.M]),
        message,
      ).toEqual([['FATAL', code, message]])
    }
  })
})
