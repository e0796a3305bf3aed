// Message builders, a seeded PRNG, a corpus of valid frontend message sequences and the mutations the
// protocol fuzzer (fuzz.test.ts) applies to them. Framing is predicted by an independent walk over the
// bytes (type byte known, length 4..limit, as postgres.c SocketBackend / pq_getmessage check it).

export interface M {
  type: string
  body: Buffer
}

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  return {
    next,
    int,
    pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]!,
    bytes: (n: number) => Buffer.from(Array.from({ length: n }, () => int(256))),
    chance: (p: number) => next() < p,
  }
}
export type Rng = ReturnType<typeof prng>

const cstr = (s: string | Buffer) =>
  Buffer.concat([typeof s === 'string' ? Buffer.from(s) : s, Buffer.from([0])])
const i16 = (n: number) => {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(n & 0xffff)
  return b
}
const i32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n | 0)
  return b
}

export const Q = (sql: string | Buffer): M => ({ type: 'Q', body: cstr(sql) })
export const Parse = (name: string, sql: string | Buffer, types: number[] = []): M => ({
  type: 'P',
  body: Buffer.concat([cstr(name), cstr(sql), i16(types.length), ...types.map(i32)]),
})
/** Bind with text parameters (null → NULL). */
export const Bind = (
  portal: string,
  stmt: string,
  params: Array<string | Buffer | null>,
  resultFormats: number[] = [],
): M => ({
  type: 'B',
  body: Buffer.concat([
    cstr(portal),
    cstr(stmt),
    i16(0),
    i16(params.length),
    ...params.map((p) => (p === null ? i32(-1) : Buffer.concat([i32(Buffer.byteLength(p)), Buffer.from(p)]))),
    i16(resultFormats.length),
    ...resultFormats.map(i16),
  ]),
})
export const Describe = (kind: 'S' | 'P', name: string): M => ({
  type: 'D',
  body: Buffer.concat([Buffer.from(kind), cstr(name)]),
})
export const Execute = (portal: string, maxRows = 0): M => ({
  type: 'E',
  body: Buffer.concat([cstr(portal), i32(maxRows)]),
})
export const Close = (kind: 'S' | 'P', name: string): M => ({
  type: 'C',
  body: Buffer.concat([Buffer.from(kind), cstr(name)]),
})
export const Sync: M = { type: 'S', body: Buffer.alloc(0) }
export const Flush: M = { type: 'H', body: Buffer.alloc(0) }
/** FunctionCall of a function by OID with text arguments. */
export const FunctionCall = (oid: number, args: string[]): M => ({
  type: 'F',
  body: Buffer.concat([
    i32(oid),
    i16(0),
    i16(args.length),
    ...args.map((a) => Buffer.concat([i32(Buffer.byteLength(a)), Buffer.from(a)])),
    i16(0),
  ]),
})

export function encode(ms: M[]): Buffer {
  return Buffer.concat(
    ms.map((m) => {
      const h = Buffer.alloc(5)
      h.write(m.type, 0, 'latin1')
      h.writeInt32BE(4 + m.body.length, 1)
      return Buffer.concat([h, m.body])
    }),
  )
}

const SMALL = 10000
const LARGE = 0x3fffffff - 1
const LIMITS: Record<string, number> = {
  Q: LARGE,
  F: LARGE,
  X: SMALL,
  B: LARGE,
  P: LARGE,
  C: SMALL,
  D: SMALL,
  E: SMALL,
  H: SMALL,
  S: SMALL,
  d: LARGE,
  c: SMALL,
  f: SMALL,
}

export type Framing =
  | { kind: 'ok' } // complete messages only
  | { kind: 'violation'; message: string } // FATAL 08P01 expected
  | { kind: 'partial'; need: number } // the last message needs `need` more bytes
  | { kind: 'terminate' } // a Terminate: the server closes quietly

/** How the server must frame `bytes` (after start-up). */
export function framing(bytes: Buffer): Framing {
  let o = 0
  while (bytes.length - o >= 5) {
    const t = String.fromCharCode(bytes[o]!)
    const len = bytes.readInt32BE(o + 1)
    const limit = LIMITS[t]
    if (limit === undefined)
      return { kind: 'violation', message: `invalid frontend message type ${bytes[o]}` }
    if (len < 4 || len > limit) return { kind: 'violation', message: 'invalid message length' }
    if (bytes.length - o < 1 + len) return { kind: 'partial', need: 1 + len - (bytes.length - o) }
    if (t === 'X') return { kind: 'terminate' }
    o += 1 + len
  }
  return o === bytes.length ? { kind: 'ok' } : { kind: 'partial', need: 5 - (bytes.length - o) }
}

/** Valid message sequences (no COPY FROM STDIN, no Terminate): the mutation seeds. */
export function corpus(r: Rng): M[] {
  const n = r.int(1000)
  const seqs: M[][] = [
    [Q(`SELECT ${n} AS n, 'text ${n}' AS t`)],
    [Q(`SELECT fz_double(${n})`)],
    [Q(`INSERT INTO fz_sink VALUES (${n}, 'q')`)],
    [Q('SELECT 1; SELECT 2; SELECT $$x$$')],
    [
      Parse('', 'SELECT $1::int + $2::int', [23, 23]),
      Bind('', '', [String(n), '1']),
      Describe('P', ''),
      Execute(''),
      Sync,
    ],
    [
      Parse('s1', 'SELECT fz_double($1)', [23]),
      Bind('p1', 's1', [String(n)]),
      Execute('p1', 1),
      Close('P', 'p1'),
      Close('S', 's1'),
      Sync,
    ],
    [Parse('', 'SELECT $1::text, $2::bytea', []), Bind('', '', ['héllo', '\\x00ff'], [1]), Execute(''), Sync],
    [
      Parse('', 'SELECT generate_series(1, $1)', [23]),
      Bind('', '', ['50']),
      Execute('', 7),
      Execute('', 0),
      Flush,
      Sync,
    ],
    [Parse('', "INSERT INTO fz_sink VALUES ($1, 'x')", [23]), Bind('', '', [String(n)]), Execute(''), Sync],
    [Describe('S', 'nosuch'), Sync],
    [FunctionCall(177, [String(n), '5'])], // int4pl
    [
      { type: 'd', body: Buffer.from('stray copy data') },
      { type: 'c', body: Buffer.alloc(0) },
      Q('SELECT 3'),
    ],
    [Q('BEGIN'), Q(`SELECT fz_double(${n})`), Q('COMMIT')],
  ]
  return r.pick(seqs).map((m) => ({ type: m.type, body: Buffer.from(m.body) }))
}

const INVALID_UTF8 = [
  Buffer.from([0xff]),
  Buffer.from([0xc3, 0x28]),
  Buffer.from([0xe2, 0x82]),
  Buffer.from([0xed, 0xa0, 0x80]),
]

/** Mutate one message body (the header is recomputed from the body: framing stays valid). */
export function mutateBody(r: Rng, body: Buffer): Buffer {
  const b = Buffer.from(body)
  switch (r.int(9)) {
    case 0: // flip bits
      for (let i = 0, k = 1 + r.int(4); i < k && b.length; i++) b[r.int(b.length)]! ^= 1 << r.int(8)
      return b
    case 1: // random byte values
      for (let i = 0, k = 1 + r.int(4); i < k && b.length; i++) b[r.int(b.length)] = r.int(256)
      return b
    case 2: // truncate
      return b.subarray(0, r.int(b.length + 1))
    case 3: // append garbage
      return Buffer.concat([b, r.bytes(1 + r.int(40))])
    case 4: {
      // insert invalid UTF-8 somewhere
      const at = r.int(b.length + 1)
      return Buffer.concat([b.subarray(0, at), r.pick(INVALID_UTF8), b.subarray(at)])
    }
    case 5: {
      // an int16 or int32 somewhere set to an extreme (counts, lengths, formats)
      if (b.length < 4) return b
      const at = r.int(b.length - 3)
      const v = r.pick([0xffff, 0x7fff, 0x8000, 0, 1])
      if (r.chance(0.5)) b.writeUInt16BE(v, at)
      else b.writeInt32BE(r.pick([-1, -2, 0x7fffffff, 0x40000000, 65535, 0]), at)
      return b
    }
    case 6: // delete a range
      if (b.length < 2) return b
      {
        const at = r.int(b.length)
        return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + r.int(8))])
      }
    case 7: // drop the terminating NUL of strings
      return Buffer.from(b.filter((x) => x !== 0 || r.chance(0.5)))
    default: // random body
      return r.bytes(r.int(64))
  }
}
