// An SPI tuple table as columns for plcolumns (docs/columns.md): the rows are deformed in wasm
// (heap_deform_tuple, as PLy_input_from_tuple does per row; the loop is loops.ts's `gather`, so no
// JavaScript runs per row) and each column is gathered into buffers in wasm memory — fixed-width types
// (bool, int2/4/8, oid, float4/8, and dates/timestamps when datetime64 is asked for) as their packed values
// plus a NULL byte per row, which Python copies out in one memcpy each (_pyglite.wasm_read) and wraps with
// numpy.frombuffer, so no Python object is made per value; every other type as its Datums, which the
// language core's own encoders (InputConverters: PL/Python's conversions — Decimal, str, bytes, lists,
// dicts) turn into one codec LIST.
//
// Wire shape (decoded by native/core/codec.c): TUPLE(names LIST[str], types LIST[int], columns LIST,
// nrows), each column either TUPLE(STR code, INT width, LIST[TUPLE(INT data, INT nulls, INT rows)] chunks,
// BOOL hasnull) — the chunks' addresses in wasm memory, valid until columns_release — or a LIST of values.
import { PgError } from '../engine/pg/elog.js'
import { L } from '../engine/pg/layout.js'
import { CodecWriter, T } from '../python/codec.js'
import type { PlRuntime } from '../python/language.js'
import { GATHER_SPEC, KIND, loops, RECV } from './loops.js'

interface Fixed {
  code: string
  size: number
  kind: number
}
/** Packed fixed-width column kinds: the struct code Python reads them with, bytes per value, gather's kind. */
const FIXED: Record<number, Fixed> = {
  16: { code: '?', size: 1, kind: KIND.bool }, // bool
  21: { code: 'h', size: 2, kind: KIND.int2 }, // int2
  23: { code: 'i', size: 4, kind: KIND.word }, // int4
  26: { code: 'I', size: 4, kind: KIND.word }, // oid
  700: { code: 'f', size: 4, kind: KIND.word }, // float4: by value on wasm32
  20: { code: 'q', size: 8, kind: KIND.ref8 }, // int8: by reference on wasm32 (Datum is 4 bytes)
  701: { code: 'd', size: 8, kind: KIND.ref8 }, // float8
}
/** With datetime64: date as int32 days, timestamp/timestamptz as int64 microseconds since 2000-01-01. */
const TEMPORAL: Record<number, Fixed> = {
  1082: { code: 'D', size: 4, kind: KIND.word },
  1114: { code: 'T', size: 8, kind: KIND.ref8 },
  1184: { code: 'T', size: 8, kind: KIND.ref8 },
}

/** What a tuple descriptor contributes to a column result. */
interface Desc {
  natts: number
  live: number[]
  names: string[]
  types: number[]
}

function describe(rt: PlRuntime, tupdesc: number): Desc {
  const h = rt.heap
  const natts = h.i32at(tupdesc + L.tupdesc_natts)
  const base = tupdesc + L.tupdesc_compact_attrs + L.compact_attr_size * natts
  const d: Desc = { natts, live: [], names: [], types: [] }
  for (let i = 0; i < natts; i++) {
    const a = base + i * L.attr_size
    if (h.u8at(a + L.attr_attisdropped)) continue
    d.live.push(i)
    d.names.push(h.str(a + L.attr_attname) ?? '')
    d.types.push(h.u32at(a + L.attr_atttypid))
  }
  return d
}

/** Per-runtime scratch: one deformed row (natts Datums and NULL bytes) and gather's specs, grown as needed. */
interface Scratch {
  values: number
  nulls: number
  specs: number
  natts: number
  ncol: number
}
const scratches = new WeakMap<PlRuntime, Scratch>()

function scratch(rt: PlRuntime, natts: number, ncol: number): Scratch {
  let s = scratches.get(rt)
  if (!s) {
    s = { values: 0, nulls: 0, specs: 0, natts: 0, ncol: 0 }
    scratches.set(rt, s)
  }
  const M = rt.heap.M
  if (s.natts < natts) {
    if (s.values) M._free(s.values)
    if (s.nulls) M._free(s.nulls)
    s.natts = Math.max(natts, 64)
    s.values = alloc(rt, 4 * s.natts)
    s.nulls = alloc(rt, s.natts)
  }
  if (s.ncol < ncol) {
    if (s.specs) M._free(s.specs)
    s.ncol = Math.max(ncol, 16)
    s.specs = alloc(rt, GATHER_SPEC * s.ncol)
  }
  return s
}

function alloc(rt: PlRuntime, n: number): number {
  const p = rt.heap.M._malloc(Math.max(n, 8)) as number
  if (!p)
    throw new PgError('out of memory', {
      sqlstate: '53200',
      detail: `plcolumns: failed on request of size ${n}.`,
    })
  return p
}

/** The packed buffers handed to Python and not yet released, per runtime (malloc'd in wasm memory). */
const handed = new WeakMap<PlRuntime, number[]>()

/**
 * Free the buffers of the columns last handed to Python: it has copied them (_fast.py calls
 * columns_release), or it never will (an error came between; the next columns operation frees them).
 */
export function releaseColumns(rt: PlRuntime): void {
  const list = handed.get(rt)
  if (!list?.length) return
  const M = rt.heap.M
  for (const p of list) M._free(p)
  list.length = 0
}

function handOver(rt: PlRuntime, ps: number[]): void {
  let list = handed.get(rt)
  if (!list) {
    list = []
    handed.set(rt, list)
  }
  list.push(...ps)
}

/** FetchDirection FETCH_FORWARD (parsenodes.h) */
const FETCH_FORWARD = 0
/** Rows one receive asks the portal for: the packed buffers are allocated for this many before it runs. */
const RECEIVE_ROWS = 1 << 16

/** One SPI tuple table's part of a packed column. */
interface Chunk {
  data: number
  nulls: number
  rows: number
}

/**
 * The columns of a result, gathered from one or more SPI tuple tables of the same shape (a cursor read in
 * chunks, so the whole result never sits in wasm memory as tuples). `temporal`: dates and timestamps
 * packed for datetime64 instead of PL/Python's text.
 */
export class ColumnBuilder {
  private readonly d: Desc
  private readonly kinds: Array<Fixed | undefined>
  private readonly chunks: Chunk[][]
  private readonly hasNull: boolean[]
  private readonly items: Array<CodecWriter | null>
  private readonly enc: Array<((w: CodecWriter, d: number) => void) | null>
  /**
   * The packed buffers, handed over by finish(): until then they are the builder's own, because a query
   * being read may call functions that read columns themselves, and each of those operations releases
   * what was handed over before it.
   */
  private readonly owned: number[] = []
  rows = 0

  constructor(
    private readonly rt: PlRuntime,
    tupdesc: number,
    temporal: boolean,
  ) {
    this.d = describe(rt, tupdesc)
    this.kinds = this.d.types.map((t) => FIXED[t] ?? (temporal ? TEMPORAL[t] : undefined))
    this.chunks = this.kinds.map(() => [])
    this.hasNull = this.kinds.map(() => false)
    this.items = this.kinds.map((k) => (k ? null : new CodecWriter(1 << 16)))
    this.enc = this.d.types.map((t, c) => (this.kinds[c] ? null : rt.io.encoder(t)))
  }

  /** Append the `n` rows of SPI tuple table `tt` (not freed here). */
  add(tt: number, n: number): void {
    if (n <= 0) return
    const rt = this.rt
    const h = rt.heap
    const M = h.M
    const { d, kinds } = this
    const tupdesc = h.u32at(tt + L.stt_tupdesc)
    const vals = h.u32at(tt + L.stt_vals)
    const ncol = d.live.length
    const s = scratch(rt, Math.max(d.natts, 1), ncol)
    // each column's destination: packed buffers handed to Python, or Datums encoded below and freed
    const words: number[] = []
    try {
      for (let c = 0; c < ncol; c++) {
        const k = kinds[c]
        const nulls = alloc(rt, n)
        if (k) {
          this.own(nulls)
          const data = this.own(alloc(rt, k.size * n))
          this.chunks[c]!.push({ data, nulls, rows: n })
          this.spec(s.specs, c, d.live[c]!, k.kind, data, nulls)
        } else {
          words.push(nulls)
          const data = alloc(rt, 4 * n)
          words.push(data)
          this.spec(s.specs, c, d.live[c]!, KIND.word, data, nulls)
        }
      }
      loops(h).gather(vals, n, tupdesc, s.values, s.nulls, s.specs, ncol)
      for (let c = 0; c < ncol; c++) {
        if (h.u32at(s.specs + GATHER_SPEC * c + 16)) this.hasNull[c] = true
        if (kinds[c]) continue
        const cw = this.items[c]!
        const e = this.enc[c]!
        const nulls = h.u32at(s.specs + GATHER_SPEC * c + 12)
        const data = h.u32at(s.specs + GATHER_SPEC * c + 8)
        for (let r = 0; r < n; r++) {
          if (h.u8at(nulls + r)) cw.none()
          else e(cw, h.u32at(data + 4 * r))
        }
      }
    } finally {
      for (const p of words) M._free(p)
    }
    this.rows += n
  }

  /** Every column packed (no value needs PL/Python's conversions): the portal can be read by `receive`. */
  get packedOnly(): boolean {
    return this.kinds.every((k) => k !== undefined)
  }

  /**
   * Read up to `count` rows of `portal` (whose result descriptor this builder was made from) straight into
   * the packed columns: recv (loops.ts) is the receiver of SPI_scroll_cursor_move, which sends a cursor's
   * rows to None_Receiver (spi.c), pointed at it for the call. So no row is copied into an SPI tuple table
   * and deformed again. Only when packedOnly. Returns the rows read.
   */
  receive(portal: number, count: number): number {
    let total = 0
    while (total < count) {
      const want = Math.min(count - total, RECEIVE_ROWS)
      const n = this.receiveChunk(portal, want)
      total += n
      if (n < want) break
    }
    return total
  }

  private receiveChunk(portal: number, want: number): number {
    const rt = this.rt
    const h = rt.heap
    const M = h.M
    const { d, kinds } = this
    const ncol = d.live.length
    const specs = alloc(rt, GATHER_SPEC * Math.max(ncol, 1))
    const self = alloc(rt, RECV.size)
    const fns = loops(h).receiver
    const none = M._None_Receiver as number
    const saved = h.u32at(none)
    try {
      for (let c = 0; c < ncol; c++) {
        const k = kinds[c]!
        const nulls = this.own(alloc(rt, want))
        const data = this.own(alloc(rt, k.size * want))
        this.chunks[c]!.push({ data, nulls, rows: 0 })
        this.spec(specs, c, d.live[c]!, k.kind, data, nulls)
      }
      for (let i = 0; i < 4; i++) h.setU32(self + 4 * i, fns[i]!)
      h.setU32(self + RECV.mydest, 0) // DestNone
      h.setU32(self + RECV.depth, 0)
      h.setU32(self + RECV.typeinfo, h.u32at(portal + L.portal_tupdesc))
      h.setU32(self + RECV.rows, 0)
      h.setU32(self + RECV.cap, want)
      h.setU32(self + RECV.specs, specs)
      h.setU32(self + RECV.nspec, ncol)
      h.setU32(self + RECV.natts, ncol ? d.live[ncol - 1]! + 1 : 0)
      h.setU32(self + RECV.overflow, 0)
      h.setU32(none, self)
      try {
        M._SPI_scroll_cursor_move(portal, FETCH_FORWARD, want)
      } finally {
        h.setU32(none, saved)
      }
      const n = Number(h.u64at(M._SPI_processed))
      // never expected (recv keeps the cursor's rows apart from other runs'): a safeguard
      if (h.u32at(self + RECV.rows) !== n || h.u32at(self + RECV.overflow))
        throw new PgError('plcolumns: rows of a cursor did not reach its columns', {
          sqlstate: 'XX000',
          detail: `The cursor returned ${n} rows, the columns received ${h.u32at(self + RECV.rows)}.`,
        })
      for (let c = 0; c < ncol; c++) {
        const chunks = this.chunks[c]!
        if (n === 0) chunks.pop()
        else chunks[chunks.length - 1]!.rows = n
        if (h.u32at(specs + GATHER_SPEC * c + 16)) this.hasNull[c] = true
      }
      this.rows += n
      return n
    } finally {
      M._free(self)
      M._free(specs)
    }
  }

  private own(p: number): number {
    this.owned.push(p)
    return p
  }

  /** Free the packed buffers of a builder that will not finish (an error came). */
  discard(): void {
    const M = this.rt.heap.M
    for (const p of this.owned) M._free(p)
    this.owned.length = 0
  }

  private spec(specs: number, c: number, att: number, kind: number, data: number, nulls: number): void {
    const h = this.rt.heap
    const a = specs + GATHER_SPEC * c
    h.setU32(a, att)
    h.setU32(a + 4, kind)
    h.setU32(a + 8, data)
    h.setU32(a + 12, nulls)
    h.setU32(a + 16, 0)
  }

  /**
   * Write the columns into `w` (the op's codec result): TUPLE(names, types, columns, nrows), each column
   * TUPLE(STR code, INT width, LIST[TUPLE(INT data, INT nulls, INT rows)], BOOL hasnull) or a LIST of
   * values.
   */
  finish(w: CodecWriter): void {
    const { d, kinds, rows } = this
    handOver(this.rt, this.owned)
    this.owned.length = 0
    const ncol = d.live.length
    w.header(T.TUPLE, 4)
    w.header(T.LIST, ncol)
    for (const name of d.names) w.text(name)
    w.header(T.LIST, ncol)
    for (const t of d.types) w.int32(t)
    w.header(T.LIST, ncol)
    for (let c = 0; c < ncol; c++) {
      const k = kinds[c]
      if (k) {
        w.header(T.TUPLE, 4)
        w.text(k.code)
        w.int32(k.size)
        const chunks = this.chunks[c]!
        w.header(T.LIST, chunks.length)
        for (const ch of chunks) {
          w.header(T.TUPLE, 3)
          w.int64(BigInt(ch.data))
          w.int64(BigInt(ch.nulls))
          w.int32(ch.rows)
        }
        w.bool(this.hasNull[c]!)
      } else {
        w.header(T.LIST, rows)
        w.raw(this.items[c]!.view())
      }
    }
    w.int32(rows)
    this.rt.syncMemory() // the buffers may have grown the memory: Python's copies check against its length
  }
}
